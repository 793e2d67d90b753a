"""Serves the admin page (CONTRACT §10) from the package's own files: no build step, no CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

PAGE_PATH = "/platform/voke-esm"
STATIC_DIR = Path(__file__).parent / "static"

# The page may talk to this service only; a stray CDN link would fail loudly in the browser.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class _RevalidatedStaticFiles(StaticFiles):
    """Static files the browser revalidates (ETag) on each load, so an upgrade is seen at once."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"cache-control", b"no-cache"),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def install_ui(app: FastAPI) -> None:
    """GET /platform/voke-esm (with or without the slash) and its assets under /static."""

    async def admin_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)

    for path in (PAGE_PATH, PAGE_PATH + "/"):
        app.add_api_route(path, admin_page, methods=["GET"], include_in_schema=False)
    app.mount(
        PAGE_PATH + "/static",
        _RevalidatedStaticFiles(directory=STATIC_DIR),
        name="voke-esm-ui",
    )
