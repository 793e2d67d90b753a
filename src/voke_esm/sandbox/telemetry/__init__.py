"""Telemetry of the sandbox plants' simulated batteries over RabbitMQ (CONTRACT §8, §11's clock)."""
