"""Refuses request bodies over the limit (CONTRACT §2: 413 over 1 MiB), declared or streamed."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voke_esm.core.errors import PayloadTooLarge, error_response


class BodyTooLarge(HTTPException):
    """Raised from `receive`; an HTTPException so that FastAPI's body parsing lets it through
    to the error handlers (which answer 413) instead of turning it into a 400."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if b"transfer-encoding" not in headers and declared in (None, b"0"):
            await self.app(scope, receive, send)  # no body at all: nothing to count
            return
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await error_response(PayloadTooLarge(), scope)(scope, receive, send)
            return

        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await error_response(PayloadTooLarge(), scope)(scope, receive, send)
