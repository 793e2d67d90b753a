"""The conformance run's calls to the ESM: through Voke's own `EsmClient` (its retries, its
waiting out `Retry-After`), paced to the partner's rate limit, each request and answer kept,
masked, for the report (CONTRACT §14)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from voke_esm.conformance.report import Masker
from voke_esm.voke.client.http import EsmClient, RetryPolicy, Timeouts

if TYPE_CHECKING:
    import httpx

# A conformance run judges answers; it retries a dropped connection or a 5xx a little (so a
# blip does not decide a check) and waits out Retry-After up to ten minutes.
CONFORMANCE_RETRY = RetryPolicy(
    attempts=3, wait_initial=0.2, wait_max=2.0, max_retry_after=600, total_timeout=900
)
_SHOWN_HEADERS = ("content-type", "authorization", "www-authenticate", "retry-after")
_PACE_MARGIN_S = 0.1
_BODY_CHARS = 20_000  # more of an answer than this is cut in the report


@dataclass
class Exchange:
    """One call and its answer: the status, and the body as JSON when it is JSON."""

    status: int
    body: Any  # the parsed JSON, or None when the answer is not JSON
    is_json: bool
    headers: httpx.Headers
    request: dict[str, Any]  # as the report shows them, masked
    response: dict[str, Any]


class Probe:
    """Sends the checks' calls; remembers the last exchange (the one that decided a check)."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        rate_limit: RateLimitItem,
        masker: Masker,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.client = EsmClient(
            base_url,
            client_id,
            client_secret,
            timeouts=timeouts or Timeouts(connect=5.0, read=30.0),
            retry=CONFORMANCE_RETRY,
            pace=self._pace,
        )
        self.masker = masker
        self._rate_limit = rate_limit
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.answered = 0  # answers received: none means the ESM was never reached
        self.last: Exchange | None = None

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _pace(self, path: str) -> None:
        """Keep to the rate limit per endpoint over a moving window, as the contract counts it."""
        endpoint = path.removeprefix("/trading/")
        while not await self._limiter.hit(self._rate_limit, endpoint):
            stats = await self._limiter.get_window_stats(self._rate_limit, endpoint)
            # A little past the window's end: the ESM counted the call when it arrived, later.
            await asyncio.sleep(max(0.0, stats.reset_time - time.time()) + _PACE_MARGIN_S)

    async def bearer(self) -> str:
        """The run's token (Voke's client exchanges it once and renews it before it expires)."""
        token = await self.client.token()
        self.masker.add(token)
        return token

    async def send(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> Exchange:
        headers: dict[str, str] = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = await self.client.exchange(method, path, headers=headers, **kwargs)
        self.answered += 1
        body: Any = None
        is_json = False
        try:
            body = json.loads(response.content)
            is_json = True
        except ValueError:
            pass
        for key in ("accessToken", "access_token"):  # tokens never reach a report
            if isinstance(body, dict):
                self.masker.add(body.get(key))
        exchange = Exchange(
            status=response.status_code,
            body=body,
            is_json=is_json,
            headers=response.headers,
            request=self._request_of(response.request),
            response=self._response_of(response, body, is_json),
        )
        self.last = exchange
        return exchange

    def _request_of(self, request: httpx.Request) -> dict[str, Any]:
        content = request.content.decode("utf-8", "replace")
        body: Any = content or None
        if content and request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(content)
        elif content:  # a form: its credentials, if any, by name
            body = "&".join(
                f"{name}=***" if name in ("client_secret", "password") else f"{name}={value}"
                for name, _, value in (pair.partition("=") for pair in content.split("&"))
            )
        return self.masker.mapping(
            {
                "method": request.method,
                "url": str(request.url),
                "headers": self.masker.headers(_shown(request.headers)),
                "body": body,
            }
        )

    def _response_of(self, response: httpx.Response, body: Any, is_json: bool) -> dict[str, Any]:
        shown = body if is_json else response.text[:_BODY_CHARS]
        return self.masker.mapping(
            {
                "status": response.status_code,
                "headers": self.masker.headers(_shown(response.headers)),
                "body": shown,
            }
        )


def _shown(headers: httpx.Headers) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers.items() if name in _SHOWN_HEADERS]
