"""A bound on how long a client may take to send a request's headers.

uvicorn has none: its keep-alive timer runs only between requests and stops at the first byte
of the next one, so a client that opens a connection and sends a partial request line (or
nothing at all), then waits, holds the connection, and its slot in the server, for ever. Enough
of them (slowloris) and the service answers nobody.

`serve` runs uvicorn with the protocol class built here: uvicorn's httptools protocol (the one
its "auto" setting picks when httptools is installed, which `uvicorn[standard]` makes sure of;
pinned, so that the bound cannot silently go away with another parser) plus a timer from the
connection's start, and from the first byte of each later request, until that request's headers
are complete. When it fires, the connection is closed. A body is not covered: a handler reading
a slow upload is in the application's hands.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request headers are late."""

    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # (uvicorn's own signature, narrower than asyncio.Protocol's)
        super().connection_made(transport)
        self._start_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # A later request on a kept-alive connection: its first byte starts the count.
        self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class to give uvicorn as `http=`, closing after `seconds` without headers."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout_s": seconds})
