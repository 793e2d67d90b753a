"""`/metrics` in the Prometheus text format (CONTRACT §11), one registry per app.

A registry of its own per `create_app`, not prometheus_client's global one: tests build many apps
in one process, and two instances must never count into each other.
"""

from __future__ import annotations

import re
import time

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.routing import Mount, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voke_esm.core.ratelimit import RateLimiter

UNMATCHED_ROUTE = "unmatched"
# From a fast cached read to a call waiting out an injected latency fault.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "voke_esm_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "voke_esm_http_request_duration_seconds",
            "Time from a request's arrival to its answer, by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limit_rejections = Counter(
            "voke_esm_rate_limit_rejections",
            "Calls refused with 429 RATE_LIMITED, by limit (trading/<endpoint> or login)",
            ["limit"],
            registry=self.registry,
        )
        self.config_updates = Counter(
            "voke_esm_config_updates",
            "Answered trading config updates, by resultCode (replayed answers included)",
            ["result_code"],
            registry=self.registry,
        )
        self.injected_faults = Counter(
            "voke_esm_injected_faults",
            "Fault rules fired on trading calls (CONTRACT §11), by endpoint and kind",
            ["endpoint", "kind"],
            registry=self.registry,
        )

    def rate_limited(self, limit: str) -> None:
        self.rate_limit_rejections.labels(limit).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class RouteTemplates:
    """The path template a request belongs to (`/api/v1/orgs/{orgId}`), never its raw path, so
    that labels stay few."""

    def __init__(self) -> None:
        self._patterns: list[tuple[re.Pattern[str], str]] | None = None

    def of(self, scope: Scope) -> str:
        route = scope.get("route")  # set by the router for a request it routed
        template = getattr(route, "path_format", None)
        if isinstance(template, str):
            return template
        # Not routed: a 404, or refused before routing (by the loopback guard, the body limit).
        path = scope["path"]
        for pattern, template in self._compiled(scope["app"]):
            if pattern.match(path):
                return template
        return UNMATCHED_ROUTE

    def _compiled(self, app: FastAPI) -> list[tuple[re.Pattern[str], str]]:
        if self._patterns is None:
            patterns = []
            for context in iter_route_contexts(app.router.routes):
                path = context.path
                if path is None:
                    continue
                if isinstance(context.original_route, Mount):
                    path = path.rstrip("/") + "/{path:path}"
                pattern, template, _ = compile_path(path)
                patterns.append((pattern, template))
            self._patterns = patterns
        return self._patterns


class RequestMetrics:
    """Counts every HTTP request by route template and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observing_send)
        except Exception:
            status = status or 500  # the outermost error middleware answered 500
            raise
        finally:
            # No status: the connection was dropped without an answer (a `drop` fault).
            if status is not None:
                method, route = scope["method"], self.templates.of(scope)
                self.metrics.requests.labels(method, route, str(status)).inc()
                self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


_EXPOSITION_EXAMPLE = (
    "# HELP voke_esm_config_updates_total Answered trading config updates, by resultCode"
    " (replayed answers included)\n"
    "# TYPE voke_esm_config_updates_total counter\n"
    'voke_esm_config_updates_total{result_code="applied_ok"} 1.0\n'
)


def install_metrics(app: FastAPI, metrics: Metrics, limiter: RateLimiter) -> None:
    """`GET /metrics`, fed by `RequestMetrics` (which `create_app` puts outermost in its list)
    and by the rate limiter's refusals."""
    limiter.on_rejection(metrics.rate_limited)

    @app.get(
        "/metrics",
        tags=["Health"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={
            200: {
                "content": {CONTENT_TYPE_LATEST: {"example": _EXPOSITION_EXAMPLE}},
                "description": "Prometheus text",
            }
        },
    )
    async def prometheus_metrics() -> Response:
        """Prometheus text: requests by route and status, latency, rate-limit rejections,
        config updates by result, injected faults."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
