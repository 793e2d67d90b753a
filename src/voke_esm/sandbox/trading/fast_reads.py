"""plant/list and plant/config without FastAPI's routing and dependency resolution.

These two GETs are what Voke's ESM client calls most, and once their answers come from the read
cache, FastAPI's per-request work (matching the route among all the others, resolving each
dependency afresh) costs more than everything the call itself does. So a well-formed call is
answered here, by the very functions the routes use: `guard_trading_call` (token, caller query,
fault rules, rate limit, journal) and `PlantReads` (cache, else database). Their errors get the
envelope from the same place as every route's (`voke_esm.core.errors.handle_error`), in the
dialect the trading guard put on the scope: a 401 carries the Bearer challenge here too (CONTRACT
§6).

A call that FastAPI would refuse before the guard runs (`plantId` missing, too long, or text no
database can store) goes on to the route untouched, which answers it as it always has; the
routes stay the documented, complete definition of both endpoints.
"""

from __future__ import annotations

from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from voke_esm.core.errors import AppError, handle_error
from voke_esm.sandbox.tools.journal import trading_call_of
from voke_esm.sandbox.trading.deps import guard_trading_call, trading_bearer
from voke_esm.sandbox.trading.paths import TRADING_PREFIX
from voke_esm.sandbox.trading.schemas import PLANT_ID_MAX_LENGTH
from voke_esm.sandbox.trading.service import PlantReads

PLANT_LIST = f"{TRADING_PREFIX}/plant/list"
PLANT_CONFIG = f"{TRADING_PREFIX}/plant/config"
_ENDPOINTS = {PLANT_LIST: "plant/list", PLANT_CONFIG: "plant/config"}


def _refused_before_the_guard(request: Request, plant_id: str | None, endpoint: str) -> bool:
    """Whether FastAPI would answer 400 before the route's guard runs: text no database can
    store in any parameter (`reject_unstorable_text`), or plant/config's `plantId` missing or
    not 1 to 120 characters (the route's `Query`)."""
    if any("\x00" in value for _, value in request.query_params.multi_items()):
        return True
    if endpoint == "plant/config":
        return plant_id is None or not 1 <= len(plant_id) <= PLANT_ID_MAX_LENGTH
    return False


class FastPlantReads:
    """The middleware answering plant/list and plant/config (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[str, BaseRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = _ENDPOINTS.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        plant_id = request.query_params.get("plantId") if endpoint == "plant/config" else None
        if _refused_before_the_guard(request, plant_id, endpoint):
            await self.app(scope, receive, send)  # the route says what is wrong
            return
        scope["route"] = self._route(scope)  # the metrics label the call by its template
        trading_call_of(request).plant_id = plant_id  # the journal's, for plant/config
        try:
            caller = await guard_trading_call(
                request, endpoint, await trading_bearer(request), plant_id
            )
            reads: PlantReads = request.app.state.plant_reads
            if plant_id is None:
                body = await reads.plant_list(caller)
            else:
                body = await reads.plant_config(caller, plant_id)
            response: Response = Response(body, media_type="application/json")
        except (AppError, SQLAlchemyError, OSError) as exc:
            response = await handle_error(request, exc)
        await response(scope, receive, send)

    def _route(self, scope: Scope) -> BaseRoute | None:
        if self._routes is None:
            self._routes = {
                context.path: context.original_route
                for context in iter_route_contexts(scope["app"].router.routes)
                if context.path in _ENDPOINTS
            }
        return self._routes.get(scope["path"])
