"""The partner ESM stand-in."""
