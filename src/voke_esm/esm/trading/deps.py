"""The trading endpoints' guards: the seed's LoopbackOnlyGuard, the client token, the rate limit,
and §11's fault rules."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from voke_esm.db import release_connection
from voke_esm.deps import KeyringDep, LimiterDep, SessionDep, SettingsDep
from voke_esm.errors import LoopbackOnly, Unauthorized, error_response
from voke_esm.esm import repository
from voke_esm.esm.models import SandboxClient
from voke_esm.esm.tools import faults
from voke_esm.esm.tools import service as tools_service
from voke_esm.esm.tools.journal import TradingCall, trading_call
from voke_esm.esm.trading.paths import is_trading_path
from voke_esm.metrics import Metrics
from voke_esm.security import TRADING_ISSUER, TokenError

_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")


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


class LoopbackOnlyGuard:
    """Refuses trading calls from non-loopback peers before anything else runs (CONTRACT §6).

    It reads the TCP peer from the ASGI scope and never a header: `serve` runs uvicorn with
    proxy headers off, so X-Forwarded-For cannot rewrite the peer either.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_trading_path(scope["path"]):
            peer = scope.get("client")
            if not is_loopback(peer[0] if peer else None):
                await error_response(LoopbackOnly())(scope, receive, send)
                return
        await self.app(scope, receive, send)


trading_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="TradingToken",
    description="trading JWT from POST /api/v1/voke-esm/trading/token",
)


TradingCallDep = Annotated[TradingCall, Depends(trading_call)]


async def trading_client(
    session: SessionDep,
    keyring: KeyringDep,
    call: TradingCallDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(trading_bearer)],
) -> SandboxClient:
    """The client a trading token (`iss: voke-esm`) stands for, if its credentials still live."""
    if credentials is None:
        raise Unauthorized()
    try:
        claims = keyring.decode_token(credentials.credentials, issuer=TRADING_ISSUER)
    except TokenError:
        raise Unauthorized("Invalid or expired token") from None
    # Revoked or rotated credentials kill their tokens at once: the client row is gone.
    client = await repository.get_client(session, claims["sub"])
    if client is None:
        raise Unauthorized("Invalid or expired token")
    call.identify(client)  # from here on the call is the org's: the journal records it
    return client


async def apply_faults(
    request: Request, session: AsyncSession, client: SandboxClient, endpoint: str
) -> tools_service.CallFaults:
    """Fire the org's fault rules for this call (CONTRACT §11): wait, answer an error, or drop.

    A rule that fired stays counted even when it fails the call, so its count is committed
    first; that also lets go of the connection before any wait (SQLite has one).
    """
    drawn = await tools_service.draw_faults(session, client.org_id, endpoint)
    if drawn.fired:
        await release_connection(session)
        metrics: Metrics = request.app.state.metrics
        for rule in drawn.fired:
            metrics.injected_faults.labels(endpoint, rule.kind).inc()
        await faults.act(drawn.fired)
    return drawn


def guarded_client(endpoint: str) -> object:
    """The token's client, once the org's faults for `endpoint` have had their say and the call
    has been counted against the rate limit (a call refused with 429 is not counted)."""

    async def dependency(
        request: Request,
        client: Annotated[SandboxClient, Depends(trading_client)],
        session: SessionDep,
        limiter: LimiterDep,
        settings: SettingsDep,
    ) -> SandboxClient:
        await apply_faults(request, session, client, endpoint)
        await limiter.hit(
            limiter.parse(settings.voke_esm_rate_limit), "trading", endpoint, client.client_id
        )
        return client

    return Depends(dependency)
