"""The one way into trading: every trading call passes the same guard, in the same order.

    1. loopback   the TCP peer must be local (CONTRACT §6), checked by `TradingGate` before any
                  header, body or token is read; the gate also sets the call's error dialect;
    2. authentication  the bearer token (`guard_bearer`), or for `token` the clientId of the
                  credentials (`guard_client`; the secret is checked after the limit, so failed
                  exchanges count: §6);
    3. fault rules     the org's rules for the endpoint fire (§11): a call they answer is not
                  counted against the rate limit;
    4. rate limit      per endpoint and clientId (§6); a call refused with 429 is not counted;
    5. journal         a call tied to an org at step 2 is recorded once answered, whatever the
                  answer (the gate; `voke_esm.sandbox.trading.journal`).

Steps 2 to 4 are `TradingPipeline.admit`, written once. The four routes in `router.py` are the
documented definition of the endpoints; the gate answers plant/list and plant/config itself (they
are the hot path, and FastAPI's routing and per-request dependency resolution cost more than the
cached answer), running the same steps and the same validation objects (`reject_unstorable_text`,
`PlantConfigQuery`) and then the same handler as the routes (`TradingPipeline.plant_list`,
`plant_config`). With `fast_reads` off, FastAPI routes those two as well: the tests compare both.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import time
import uuid
from typing import Protocol, runtime_checkable

from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voke_esm.core.body_limit import BodySizeLimit
from voke_esm.core.db import session_scope
from voke_esm.core.deps import reject_unstorable_text
from voke_esm.core.errors import (
    ERROR_DIALECT,
    AppError,
    ErrorDialect,
    Forbidden,
    LoopbackOnly,
    Unauthorized,
    ValidationFailed,
    error_response,
    handle_error,
)
from voke_esm.core.metrics import Metrics
from voke_esm.core.ratelimit import RateLimiter
from voke_esm.core.schemas import FieldError, utc_now
from voke_esm.core.security import TRADING_ISSUER, Keyring, TokenError
from voke_esm.sandbox.repositories import org_states as org_states_repository
from voke_esm.sandbox.trading import faults, quirks
from voke_esm.sandbox.trading.callers import TradingCaller, TradingCallers
from voke_esm.sandbox.trading.faults import ConnectionDropped
from voke_esm.sandbox.trading.journal import (
    DROPPED_STATUS,
    TRADING_CALL,
    JournalRecorder,
    TradingCall,
    journal_entry,
    trading_call_of,
)
from voke_esm.sandbox.trading.paths import TRADING_PREFIX, is_trading_path
from voke_esm.sandbox.trading.schemas import PlantConfigQuery
from voke_esm.sandbox.trading.service import PlantReads, TradingPlantNotFound

logger = logging.getLogger("voke_esm")

TOKEN_PATH = f"{TRADING_PREFIX}/token"
PLANT_LIST = f"{TRADING_PREFIX}/plant/list"
PLANT_CONFIG = f"{TRADING_PREFIX}/plant/config"
PLANT_CONFIG_UPDATE = f"{TRADING_PREFIX}/plant/config/update"
_READS = {PLANT_LIST: "plant/list", PLANT_CONFIG: "plant/config"}
_FORM = b"application/x-www-form-urlencoded"
_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")
_DISCONNECT_WAIT_S = 5.0
# What the error handlers answer inside the app; anything else goes on up to the 500 fallback.
_HANDLED = (AppError, RequestValidationError, SQLAlchemyError, OSError)

# How the trading endpoints' errors speak beyond §2 (CONTRACT §6): a refused client
# authentication challenges with Basic; an OAuth2 form token request also gets RFC 6749's names;
# the bearer endpoints' 401s tell the client its token is no good (RFC 6750 §3).
TOKEN_ERRORS = ErrorDialect(challenge='Basic realm="voke-esm"')
OAUTH2_FORM_ERRORS = ErrorDialect(oauth2=True, challenge='Basic realm="voke-esm"')
BEARER_ERRORS = ErrorDialect(challenge='Bearer error="invalid_token"')

trading_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="TradingToken",
    description="a trading token (its `accessToken`) from POST /api/v1/voke-esm/trading/token, "
    "pasted",
)


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


class TradingPipeline:
    """Steps 2 to 4 of every trading call, and the read handlers (see the module docstring).

    Built once by `create_app`; what it needs it holds, rather than resolving it per request.
    """

    def __init__(
        self,
        *,
        keyring: Keyring,
        callers: TradingCallers,
        sessionmaker: async_sessionmaker[AsyncSession],
        limiter: RateLimiter,
        rate_limit: str,
        metrics: Metrics,
        journal: JournalRecorder,
        reads: PlantReads,
    ) -> None:
        self.keyring = keyring
        self.callers = callers
        self.sessionmaker = sessionmaker
        self.limiter = limiter
        self.rate_limit = limiter.parse(rate_limit)
        self._org_rate_limits: dict[str, RateLimitItem] = {}
        self.metrics = metrics
        self.journal = journal
        self.reads = reads
        self.fast_reads = True  # the gate answers plant/list and plant/config (module docstring)

    # Step 2: authentication -----------------------------------------------------------------

    async def authenticate(
        self, credentials: HTTPAuthorizationCredentials | None, plant_id: str | None
    ) -> TradingCaller:
        """The client a trading token (`iss: voke-esm`) stands for, if its credentials still live.

        Read afresh on every call: revoked or rotated credentials kill their tokens at once, on
        every instance, because the client row is gone. Given `plant_id` (as sent, not yet
        validated), the same query reads that plant's revision for the read cache.
        """
        if credentials is None:
            raise await self.refusal(Unauthorized(), plant_id, token_sent=False)
        try:
            claims = self.keyring.decode_token(credentials.credentials, issuer=TRADING_ISSUER)
        except TokenError:
            refused = Unauthorized("Invalid or expired token")
            raise await self.refusal(refused, plant_id, token_sent=True) from None
        caller = await self.callers.read(claims["sub"], plant_id)
        if caller is None:
            raise Unauthorized("Invalid or expired token")
        return caller

    async def refusal(
        self, refused: AppError, plant_id: str | None, *, token_sent: bool
    ) -> AppError:
        """`refused`, or 403 where the org whose plant the call names has a quirk for it (§14):
        naming a plant is the only way an unauthenticated call can be told to be an org's."""
        if not plant_id:
            return refused
        async with session_scope(self.sessionmaker) as session:
            org_quirks = await org_states_repository.quirks_of_plant_org(session, plant_id)
        if quirks.unauthenticated_status(org_quirks, token_sent=token_sent) == 403:
            return Forbidden(quirks.FORBIDDEN_MESSAGE)
        return refused

    # Steps 3 and 4, and the journal's identification ----------------------------------------

    async def admit(
        self, call: TradingCall, endpoint: str, caller: TradingCaller | None, client_id: str
    ) -> None:
        """Tie the call to its org (from here on the journal records it), fire the org's fault
        rules, then count the call against the rate limit. `caller` None is a token exchange
        for an unknown clientId: nothing to journal, no rules, but it counts."""
        if caller is not None:
            call.identify(caller.org_id, caller.client_id)
            call.quirks = caller.quirks
            # Most orgs have no rule for the endpoint: then no session is opened at all.
            if faults.any_apply(caller.fault_rules, endpoint):
                await self.fire_faults(call, caller.org_id, endpoint)
        await self.limiter.hit(self.rate_limit_of(caller), "trading", endpoint, client_id)

    def rate_limit_of(self, caller: TradingCaller | None) -> RateLimitItem:
        """The org's own limit where it set one (`PUT faults` `rateLimit`), else the service's."""
        if caller is None or caller.rate_limit is None:
            return self.rate_limit
        limit = self._org_rate_limits.get(caller.rate_limit)
        if limit is None:
            limit = self._org_rate_limits[caller.rate_limit] = self.limiter.parse(caller.rate_limit)
        return limit

    async def fire_faults(self, call: TradingCall, org_id: uuid.UUID, endpoint: str) -> None:
        """Fire the org's fault rules for this call (CONTRACT §11): wait, answer an error, or drop.

        A rule that fired stays counted even when it fails the call: its count is committed, and
        the connection let go of (SQLite has one), before the rules act. The journal marks the
        call with what the rules made of its answer.
        """
        async with session_scope(self.sessionmaker) as session:
            drawn = await faults.draw_faults(session, org_id, endpoint)
        for rule in drawn.fired:
            self.metrics.injected_faults.labels(endpoint, rule.kind).inc()
        call.fault = faults.answer_kind(drawn.fired)
        await faults.act(drawn.fired)

    # The two guards -----------------------------------------------------------------------------

    async def guard_bearer(
        self, request: Request, endpoint: str, plant_id: str | None = None
    ) -> TradingCaller:
        """Steps 2 to 4 for plant/list, plant/config and plant/config/update."""
        caller = await self.authenticate(await trading_bearer(request), plant_id)
        await self.admit(trading_call_of(request), endpoint, caller, caller.client_id)
        return caller

    async def guard_client(self, request: Request, client_id: str) -> TradingCaller | None:
        """Steps 2 to 4 for the token exchange: the caller its clientId names, or None.

        A known clientId ties the call to its org (journaled, and the org's faults apply) even
        when its secret then turns out wrong (CONTRACT §11); failed exchanges count (§6).
        """
        caller = await self.callers.read(client_id)
        await self.admit(trading_call_of(request), "token", caller, client_id)
        return caller

    async def guard_plant_config(
        self, request: Request
    ) -> tuple[TradingCaller, PlantConfigQuery | RequestValidationError]:
        """plant/config's guard, and its query as the route's model reads it: the journal notes
        the plantId if the route takes it. A refused query is answered after the guard, as
        FastAPI answers it after the route's dependencies."""
        query = plant_config_query(request)
        if isinstance(query, PlantConfigQuery):
            trading_call_of(request).plant_id = query.plant_id
        sent = request.query_params.get("plantId")
        return await self.guard_bearer(request, "plant/config", sent), query

    # The read handlers (the routes' bodies, and the gate's) ---------------------------------

    async def plant_list(self, caller: TradingCaller) -> Response:
        body = quirks.plant_list_body(await self.reads.plant_list(caller), caller.quirks)
        return Response(body, media_type="application/json")

    async def plant_config(self, caller: TradingCaller, query: PlantConfigQuery) -> Response:
        try:
            body = await self.reads.plant_config(caller, query.plant_id)
        except TradingPlantNotFound:
            if not quirks.unknown_plant_is_400(caller.quirks):
                raise
            raise ValidationFailed([{"field": "plantId", "message": "no such plant"}]) from None
        body = quirks.plant_config_body(body, caller.quirks)
        return Response(body, media_type="application/json")

    async def answer_read(self, request: Request, endpoint: str) -> Response:
        """plant/list or plant/config as their routes answer it, without FastAPI's routing: the
        app-wide text check, the guard, the route's query model, then the route's handler."""
        await reject_unstorable_text(request)
        if endpoint == "plant/list":
            return await self.plant_list(await self.guard_bearer(request, endpoint))
        caller, query = await self.guard_plant_config(request)
        if isinstance(query, RequestValidationError):
            raise query
        return await self.plant_config(caller, query)


def plant_config_query(request: Request) -> PlantConfigQuery | RequestValidationError:
    """The route's query model on the request's query, as FastAPI applies it: the last value of
    each parameter, the others ignored, errors located in the query."""
    try:
        return PlantConfigQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        errors = [{**error, "loc": ("query", *error["loc"])} for error in exc.errors()]
        return RequestValidationError(errors)


@runtime_checkable
class _Transport(Protocol):
    def close(self) -> None: ...

    def is_closing(self) -> bool: ...


class TradingGate:
    """The ASGI entry of every trading call: step 1 (loopback, and the error dialect), the
    journal's record of the answer, the `drop` fault, and plant/list and plant/config answered
    through the pipeline (see the module docstring).

    It must sit outside every middleware that wraps `receive` (the body limit): a `drop` closes
    the server's own transport, which it finds through the server's `receive`.
    """

    def __init__(self, app: ASGIApp, *, pipeline: TradingPipeline, max_body_bytes: int) -> None:
        self.app = app
        self.pipeline = pipeline
        # The same body limit as every other request: a read declaring a body too large is a
        # 413, as it would be on its way to the route.
        self._read = BodySizeLimit(self._answer_read, max_bytes=max_body_bytes)
        self._routes: dict[str, BaseRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_trading_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        # Step 1: before anything else is read (CONTRACT §6). The TCP peer from the scope, never
        # a header: `serve` runs uvicorn with proxy headers off.
        scope[ERROR_DIALECT] = trading_error_dialect(scope)
        peer = scope.get("client")
        if not is_loopback(peer[0] if peer else None):
            await error_response(LoopbackOnly(), scope)(scope, receive, send)
            return
        call = TradingCall(at=utc_now())
        scope[TRADING_CALL] = call
        started = time.perf_counter()
        recorded = False

        def record(status: int) -> None:  # step 5: once, for a call tied to an org
            nonlocal recorded
            if recorded or call.org_id is None:
                return
            recorded = True
            duration_ms = round((time.perf_counter() - started) * 1000, 3)
            self.pipeline.journal.record(journal_entry(call, scope, status, duration_ms))

        # A config update refused as a whole (400) is recorded once its answer is sent, with
        # the errors the answer listed (issue 12): the journal shows why it was refused.
        refused: bytearray | None = None

        async def recording_send(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if call.quirks:  # shape400As422 (sandbox/trading/quirks.py)
                    updating = scope["path"] == PLANT_CONFIG_UPDATE
                    status = quirks.answer_status(status, updating, call.quirks)
                    message = {**message, "status": status}
                if status == 400 and scope["path"] == PLANT_CONFIG_UPDATE:
                    refused = bytearray()
                else:
                    record(status)
            elif message["type"] == "http.response.body" and refused is not None:
                refused += message.get("body", b"")
                if not message.get("more_body", False):
                    call.errors = answered_errors(bytes(refused))
                    record(400)
            await send(message)

        read = _READS.get(scope["path"]) if scope["method"] == "GET" else None
        inner = self._read if read is not None and self.pipeline.fast_reads else self.app
        try:
            await inner(scope, receive, recording_send)
        except ConnectionDropped:
            record(DROPPED_STATUS)
            if not await _drop(receive):
                raise
        except Exception:
            record(500)  # the outermost error middleware answers it with a 500
            raise
        if refused is not None:
            record(400)  # its answer's body never ended (the client went away): no errors

    async def _answer_read(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self._route(scope)  # the metrics label the call by its template
        request = Request(scope, receive)
        try:
            response = await self.pipeline.answer_read(request, _READS[scope["path"]])
        except _HANDLED as exc:
            response = await handle_error(request, exc)
        await response(scope, receive, send)

    def _route(self, scope: Scope) -> BaseRoute | None:
        if self._routes is None:
            self._routes = {
                context.path: context.original_route
                for context in iter_route_contexts(scope["app"].router.routes)
                if context.path in _READS
            }
        return self._routes.get(scope["path"])


def answered_errors(body: bytes) -> list[FieldError]:
    """The `details.errors` of a §2 error envelope; [] when it lists none."""
    try:
        envelope = json.loads(body)
        errors = envelope["details"]["errors"]
    except (ValueError, TypeError, KeyError):
        return []
    if not isinstance(errors, list):
        return []
    return [
        {"field": str(error.get("field")), "message": str(error.get("message"))}
        for error in errors
        if isinstance(error, dict)
    ]


async def _drop(receive: Receive) -> bool:
    """Close the connection without an answer (a `drop` fault, CONTRACT §11).

    ASGI has no message for "close without answering", and an exception from the app makes the
    server answer 500. Under uvicorn, `receive` is a method of the request's cycle object, which
    holds the connection's transport: closing it, then waiting for the disconnect to reach the
    cycle, makes uvicorn finish the request quietly (it neither answers nor logs a request that
    was disconnected before it started an answer). Elsewhere (e.g. in-process test transports) the
    exception goes on up: the caller gets an error, not an answer.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if not isinstance(transport, _Transport):  # asyncio's, or uvloop's (no subclass)
        return False
    transport.close()
    try:
        async with asyncio.timeout(_DISCONNECT_WAIT_S):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        logger.warning("dropped connection did not report its disconnect")
    return True
