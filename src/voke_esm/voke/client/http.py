"""Voke's client for a partner ESM's HTTP contract (the seed's EsmClientService calls).

It speaks only HTTP to `esmApiUrl`, so it works against any ESM that keeps the contract, this
sandbox included, and never reaches into the sandbox's database.

- The token is reused until shortly before it expires, and refreshed once on a 401.
- A 429 waits for `Retry-After`; connection errors, timeouts and 5xx answers are retried with capped
  exponential backoff and jitter (stamina); a retried config update resends the same body, and so
  the same `configUpdateReqCode`, so it is never applied twice.
- Each failure kind raises its own `EsmError`. Secrets, tokens and headers are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from voke_esm.contract.time_configs import TimeConfigJson
from voke_esm.voke.client.schemas import ConfigUpdateAnswer, EsmPlant, EsmPlantConfig, TokenAnswer

if TYPE_CHECKING:
    # httpx (which loads rich, pygments and click for its command line) and stamina are imported
    # where a client is made or used, not when the service starts: most processes never call out.
    import httpx

logger = logging.getLogger("voke_esm.esm_client")

_Answer = TypeVar("_Answer")


class EsmError(Exception):
    """A call to the partner ESM failed; the message is safe to show and to log."""


class EsmUnavailable(EsmError):
    """Unreachable, timed out, or answering 5xx after every retry."""


class EsmAuthFailed(EsmError):
    """The ESM refused the credentials, or a fresh token."""


class EsmRateLimited(EsmError):
    """Still rate limited after waiting as long as we allow."""


class EsmProtocolError(EsmError):
    """An answer that is not JSON of the contract's shape."""


class EsmRequestRefused(EsmError):
    """A 4xx answer other than 401 and 429 (e.g. 404 for an unknown plant)."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(f"ESM answered {status} {code or ''}: {message}".replace("  ", " "))
        self.status = status
        self.code = code


class _Transient(Exception):
    """One failed attempt that is worth another; `wait` is the server's Retry-After, if any."""

    def __init__(self, failure: EsmError, wait: float | None = None) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.wait = wait


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    wait_initial: float = 0.2
    wait_max: float = 5.0
    wait_jitter: float = 0.5
    max_retry_after: float = 120.0  # longest Retry-After we are willing to sleep for
    # The most one call may take, its retries and waits included: a hard deadline, so that a
    # sync (a token, the plant list, one config per linked plant) always ends, and with it the
    # lease it renews while it runs (voke/client/service.py).
    total_timeout: float = 300.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 3.0
    read: float = 15.0

    def httpx(self) -> httpx.Timeout:
        import httpx  # deferred: see the top of the module

        return httpx.Timeout(self.read, connect=self.connect)


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_RETRY = RetryPolicy()


class EsmClient:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
        pace: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        import httpx  # deferred: see the top of the module

        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self._retry = retry
        self._http = httpx.AsyncClient(timeout=timeouts.httpx(), transport=transport)
        self._token: str | None = None
        self._token_renew_at = 0.0
        # Awaited before every attempt with its path: a caller's own pacing (conformance keeps
        # to the partner's rate limit, CONTRACT §14).
        self._pace = pace

    def __repr__(self) -> str:  # never the secret or the token
        return f"EsmClient({self.base_url!r}, client_id={self.client_id!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    # The contract ------------------------------------------------------------------------------

    async def list_plants(self) -> list[EsmPlant]:
        return await self._call("GET", "/trading/plant/list", TypeAdapter(list[EsmPlant]))

    async def get_config(self, plant_id: str) -> EsmPlantConfig:
        return await self._call(
            "GET",
            "/trading/plant/config",
            TypeAdapter(EsmPlantConfig),
            params={"plantId": plant_id},
        )

    async def update_config(
        self,
        plant_id: str,
        time_configs: Sequence[TimeConfigJson],
        *,
        validate_only: bool = False,
        config_update_req_code: str | None = None,
    ) -> ConfigUpdateAnswer:
        body = {
            "plantId": plant_id,
            "configUpdateReqCode": config_update_req_code or f"voke-{uuid.uuid4()}",
            "validateOnly": validate_only,
            "timeConfigs": list(time_configs),
        }
        return await self._call(
            "POST", "/trading/plant/config/update", TypeAdapter(ConfigUpdateAnswer), json=body
        )

    async def token(self) -> str:
        """A valid access token, reusing the cached one until shortly before it expires."""
        if self._token is not None and time.monotonic() < self._token_renew_at:
            return self._token
        response = await self._send(
            "POST",
            "/trading/token",
            json={"clientId": self.client_id, "clientSecret": self._client_secret},
        )
        if response.status_code in (400, 401):
            raise EsmAuthFailed(f"the ESM refused the client credentials ({response.status_code})")
        answer = self._parse(response, TypeAdapter(TokenAnswer))
        # Renew a minute early, or at 90 % of a short lifetime less the second `exp` is rounded
        # down to, so a token never dies in flight.
        margin = min(60.0, answer.expires_in * 0.1 + 1)
        renew_at = time.monotonic() + answer.expires_in - margin
        self._token, self._token_renew_at = answer.access_token, renew_at
        return self._token

    def forget_token(self) -> None:
        self._token, self._token_renew_at = None, 0.0

    async def exchange(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request as given (no token added) and its answer whatever its status, retried
        and paced as every call is: for callers that judge the answers themselves."""
        return await self._send(method, path, **kwargs)

    # Plumbing ----------------------------------------------------------------------------------

    async def _call(
        self, method: str, path: str, shape: TypeAdapter[_Answer], **kwargs: Any
    ) -> _Answer:
        for refreshed in (False, True):
            token = await self.token()
            response = await self._send(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
            if response.status_code != 401:
                return self._parse(response, shape)
            self.forget_token()  # revoked, rotated or expired early: one fresh token, then give up
            if refreshed:
                break
        raise EsmAuthFailed("the ESM refused a fresh token (401)")

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, retried while it fails transiently; 2xx and final 4xx are returned."""

        policy = self._retry
        try:
            async with asyncio.timeout(policy.total_timeout):
                return await self._send_retried(method, path, **kwargs)
        except TimeoutError:
            raise EsmUnavailable(
                f"{method} {path}: no answer within {policy.total_timeout:g} s"
            ) from None

    async def _send_retried(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import stamina  # deferred: see the top of the module

        policy = self._retry
        try:
            async for attempt in stamina.retry_context(
                on=_backoff_for,
                attempts=policy.attempts,
                timeout=policy.total_timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    return await self._attempt(method, path, **kwargs)
        except _Transient as exc:
            raise exc.failure from None
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    async def _attempt(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx  # deferred: see the top of the module

        if self._pace is not None:
            await self._pace(path)
        started = time.perf_counter()
        try:
            response = await self._http.request(method, self.base_url + path, **kwargs)
        except httpx.TimeoutException as exc:
            raise _Transient(
                EsmUnavailable(f"{method} {path}: timed out ({type(exc).__name__})")
            ) from None
        except httpx.TransportError as exc:
            raise _Transient(EsmUnavailable(f"{method} {path}: {type(exc).__name__}")) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("ESM %s %s -> %s (%.0f ms)", method, path, response.status_code, elapsed_ms)
        if response.status_code == 429:
            wait = _retry_after(response)
            if wait > self._retry.max_retry_after:
                raise EsmRateLimited(f"{method} {path}: rate limited for {wait:.0f} s")
            logger.info("ESM %s %s rate limited: waiting %.1f s (Retry-After)", method, path, wait)
            raise _Transient(EsmRateLimited(f"{method} {path}: still rate limited"), wait)
        if response.status_code >= 500:
            raise _Transient(
                EsmUnavailable(f"{method} {path}: ESM answered {response.status_code}")
            )
        return response

    def _parse(self, response: httpx.Response, shape: TypeAdapter[_Answer]) -> _Answer:
        if response.status_code >= 400:
            code, message = _error_of(response)
            raise EsmRequestRefused(response.status_code, code, message)
        try:
            return shape.validate_json(response.content)
        except ValidationError as exc:
            where = response.request.url.path
            raise EsmProtocolError(
                f"{where}: the answer is not the contract's JSON ({exc.error_count()} problems)"
            ) from None


def _backoff_for(exc: Exception) -> bool | float:
    """stamina's hook: the server's Retry-After when it gave one, else exponential backoff."""
    if isinstance(exc, _Transient):
        return exc.wait if exc.wait is not None else True
    return False


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


class _ErrorEnvelope(BaseModel):
    code: str | None = None
    message: str = ""


def _error_of(response: httpx.Response) -> tuple[str | None, str]:
    try:
        envelope = _ErrorEnvelope.model_validate_json(response.content)
    except ValidationError:
        return None, response.reason_phrase
    return envelope.code, envelope.message or response.reason_phrase
