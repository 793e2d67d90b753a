"""Serves the admin page (CONTRACT §10) from the package's own files: no build step, no CDN."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

PAGE_PATH = "/platform/voke-esm"
STATIC_DIR = Path(__file__).parent / "static"
DOCS_DIR = Path(__file__).parent / "docs"
# Swagger UI and ReDoc, shipped in a wheel (fastapi-offline): the docs work with no CDN.
DOCS_ASSETS = files("fastapi_offline") / "static"

# The page may talk to this service only; a stray CDN link would fail loudly in the browser.
_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": _PAGE_CSP,
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
# The API docs hold a SuperAdmin's token: the page's policy, and no inline script (Swagger UI is
# started by a file of this service, ui/docs/swagger-init.js).
_DOCS_HEADERS = _PAGE_HEADERS
# ReDoc (the standalone bundle of fastapi-offline) writes two <style> elements at run time: an
# empty one that styled-components fills through the CSSOM, and its scroll bars' fixed CSS. Their
# hashes let exactly those through (tests/ui/test_hardening_pages.py fails if the bundle changes
# them); its search index is built in a worker it makes from a blob: URL of its own.
_REDOC_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty <style>
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar's CSS
)
_REDOC_HEADERS = {
    **_PAGE_HEADERS,
    "Content-Security-Policy": (
        f"{_PAGE_CSP}; style-src 'self' {' '.join(_REDOC_STYLE_HASHES)}; worker-src blob:"
    ),
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


def install_docs(app: FastAPI) -> None:
    """GET /docs (Swagger UI) and /redoc (ReDoc) on the service's own assets, under a CSP."""
    app.mount("/static/docs", StaticFiles(directory=str(DOCS_ASSETS)), name="docs-assets")

    async def swagger_ui() -> FileResponse:
        return FileResponse(DOCS_DIR / "swagger.html", headers=_DOCS_HEADERS)

    async def swagger_init() -> FileResponse:
        return FileResponse(
            DOCS_DIR / "swagger-init.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    async def redoc() -> FileResponse:
        return FileResponse(DOCS_DIR / "redoc.html", headers=_REDOC_HEADERS)

    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        "/docs/swagger-init.js", swagger_init, methods=["GET"], include_in_schema=False
    )
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)
