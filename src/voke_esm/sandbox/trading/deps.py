"""The trading endpoints' guards: the seed's LoopbackOnlyGuard, the client token, the rate limit,
and §11's fault rules."""

from __future__ import annotations

import functools
import ipaddress
import uuid
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from voke_esm.core.config import Settings
from voke_esm.core.db import end_transaction_before_slow_work, session_scope
from voke_esm.core.errors import (
    ERROR_DIALECT,
    ErrorDialect,
    LoopbackOnly,
    Unauthorized,
    error_response,
)
from voke_esm.core.metrics import Metrics
from voke_esm.core.ratelimit import RateLimiter
from voke_esm.core.security import TRADING_ISSUER, Keyring, TokenError
from voke_esm.sandbox.repository import TradingCaller, TradingCallers
from voke_esm.sandbox.tools import faults
from voke_esm.sandbox.tools import service as tools_service
from voke_esm.sandbox.tools.journal import TradingCall, trading_call, trading_call_of
from voke_esm.sandbox.trading.paths import TRADING_PREFIX, is_trading_path
from voke_esm.sandbox.trading.service import PlantReads

_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")
TOKEN_PATH = f"{TRADING_PREFIX}/token"
_FORM = b"application/x-www-form-urlencoded"

# How the trading endpoints' errors speak beyond §2 (CONTRACT §6): a refused client
# authentication challenges with Basic; an OAuth2 form token request also gets RFC 6749's names;
# the bearer endpoints' 401s tell the client its token is no good (RFC 6750 §3).
TOKEN_ERRORS = ErrorDialect(challenge='Basic realm="voke-esm"')
OAUTH2_FORM_ERRORS = ErrorDialect(oauth2=True, challenge='Basic realm="voke-esm"')
BEARER_ERRORS = ErrorDialect(challenge='Bearer error="invalid_token"')


@functools.lru_cache(maxsize=1024)  # a few peers call again and again; parsing is the cost
def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.0/104
    if isinstance(address, ipaddress.IPv4Address):
        return address in _LOOPBACK_V4
    return address == ipaddress.IPv6Address("::1")


def is_oauth2_form(scope: Scope) -> bool:
    """Whether the request's body is the standard OAuth2 form (its Content-Type says so)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == _FORM
    return False


def trading_error_dialect(scope: Scope) -> ErrorDialect:
    if scope["path"] != TOKEN_PATH:
        return BEARER_ERRORS
    return OAUTH2_FORM_ERRORS if is_oauth2_form(scope) else TOKEN_ERRORS


class LoopbackOnlyGuard:
    """Refuses trading calls from non-loopback peers before anything else runs (CONTRACT §6).

    It reads the TCP peer from the ASGI scope and never a header: `serve` runs uvicorn with
    proxy headers off, so X-Forwarded-For cannot rewrite the peer either. Being the first to see
    a trading call, it also puts the call's `ErrorDialect` on the scope, so that every error
    answer to it, its own 403 included, speaks as §6 says.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_trading_path(scope["path"]):
            scope[ERROR_DIALECT] = trading_error_dialect(scope)
            peer = scope.get("client")
            if not is_loopback(peer[0] if peer else None):
                await error_response(LoopbackOnly(), scope)(scope, receive, send)
                return
        await self.app(scope, receive, send)


trading_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="TradingToken",
    description="trading JWT from POST /api/v1/voke-esm/trading/token",
)


TradingCallDep = Annotated[TradingCall, Depends(trading_call)]


async def _plant_reads(request: Request) -> PlantReads:
    reads: PlantReads = request.app.state.plant_reads
    return reads


async def _trading_callers(request: Request) -> TradingCallers:
    callers: TradingCallers = request.app.state.trading_callers
    return callers


PlantReadsDep = Annotated[PlantReads, Depends(_plant_reads)]
TradingCallersDep = Annotated[TradingCallers, Depends(_trading_callers)]


async def _caller(
    keyring: Keyring,
    callers: TradingCallers,
    credentials: HTTPAuthorizationCredentials | None,
    plant_id: str | None,
) -> TradingCaller:
    """The client a trading token (`iss: voke-esm`) stands for, if its credentials still live.

    Read afresh on every call: revoked or rotated credentials kill their tokens at once, on
    every instance, because the client row is gone.
    """
    if credentials is None:
        raise Unauthorized()
    try:
        claims = keyring.decode_token(credentials.credentials, issuer=TRADING_ISSUER)
    except TokenError:
        raise Unauthorized("Invalid or expired token") from None
    caller = await callers.read(claims["sub"], plant_id)
    if caller is None:
        raise Unauthorized("Invalid or expired token")
    return caller


async def apply_faults(
    request: Request, session: AsyncSession, org_id: uuid.UUID, endpoint: str
) -> tools_service.CallFaults:
    """Fire the org's fault rules for this call (CONTRACT §11): wait, answer an error, or drop.

    A rule that fired stays counted even when it fails the call, so its count is committed
    first; that also lets go of the connection before any wait (SQLite has one).
    """
    drawn = await tools_service.draw_faults(session, org_id, endpoint)
    if drawn.fired:
        await end_transaction_before_slow_work(session)
        metrics: Metrics = request.app.state.metrics
        for rule in drawn.fired:
            metrics.injected_faults.labels(endpoint, rule.kind).inc()
        await faults.act(drawn.fired)
    return drawn


async def guard_trading_call(
    request: Request,
    endpoint: str,
    credentials: HTTPAuthorizationCredentials | None,
    plant_id: str | None = None,
) -> TradingCaller:
    """The token's client, once the org's faults for `endpoint` have had their say and the call
    has been counted against the rate limit (a call refused with 429 is not counted).

    One query reads the client, its org's fault rules and, given `plant_id` (as the caller sent
    it, not yet validated), that plant's revision for the read cache. Most orgs have no fault
    rule for the endpoint, and then the call goes on without opening a session at all. What it
    needs it takes from the app's state rather than as dependencies: FastAPI resolves each
    dependency anew on every request, and on the hottest routes that was most of the
    framework's cost.
    """
    state = request.app.state
    caller = await _caller(state.keyring, state.trading_callers, credentials, plant_id)
    call = trading_call_of(request)
    call.identify(caller.org_id, caller.client_id)  # from here on the journal records the call
    if faults.any_apply(caller.fault_rules, endpoint):
        async with session_scope(state.sessionmaker) as session:
            await apply_faults(request, session, caller.org_id, endpoint)
    limiter: RateLimiter = state.limiter
    settings: Settings = state.settings
    await limiter.hit(
        limiter.parse(settings.voke_esm_rate_limit), "trading", endpoint, caller.client_id
    )
    return caller


def guarded_caller(endpoint: str, *, plant_from_query: bool = False) -> object:
    """`guard_trading_call` as a dependency; with `plant_from_query`, for the `plantId` plant."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(trading_bearer)],
    ) -> TradingCaller:
        plant_id = request.query_params.get("plantId") if plant_from_query else None
        return await guard_trading_call(request, endpoint, credentials, plant_id)

    return Depends(dependency)
