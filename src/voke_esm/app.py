"""`create_app(settings)`: the one place where the service is assembled."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from voke_esm import __version__
from voke_esm.core import readiness
from voke_esm.core.body_limit import BodySizeLimit
from voke_esm.core.config import Settings
from voke_esm.core.db import create_engine, create_sessionmaker
from voke_esm.core.deps import reject_unstorable_text
from voke_esm.core.errors import ServiceUnavailable, install_error_handlers
from voke_esm.core.metrics import Metrics, RequestMetrics, install_metrics
from voke_esm.core.openapi import documented, polish_openapi
from voke_esm.core.ratelimit import RateLimiter
from voke_esm.core.schemas import MessageRead
from voke_esm.core.security import Keyring
from voke_esm.core.services import services_of, store_services
from voke_esm.sandbox import locks as sandbox_locks
from voke_esm.sandbox.admin.router import router as esm_admin_router
from voke_esm.sandbox.services import SandboxServices
from voke_esm.sandbox.telemetry.publisher import TelemetryPublisher
from voke_esm.sandbox.telemetry.router import router as telemetry_router
from voke_esm.sandbox.telemetry.service import publish_every
from voke_esm.sandbox.tools.router import router as tools_router
from voke_esm.sandbox.trading.callers import trading_callers
from voke_esm.sandbox.trading.journal import JournalRecorder
from voke_esm.sandbox.trading.pipeline import TradingGate, TradingPipeline
from voke_esm.sandbox.trading.read_cache import TradingReadCache
from voke_esm.sandbox.trading.router import router as esm_trading_router
from voke_esm.sandbox.trading.service import PlantReads
from voke_esm.ui.router import install_docs, install_ui
from voke_esm.voke.auth.router import auth_router, users_router
from voke_esm.voke.client.periodic import sync_every
from voke_esm.voke.client.router import router as esm_client_router
from voke_esm.voke.client.service import EsmClientService
from voke_esm.voke.orgs.router import router as orgs_router
from voke_esm.voke.plants.router import router as plants_router
from voke_esm.voke.services import VokeServices

DESCRIPTION = """\
A stand-in for an energy-storage partner's ESM system: enable the sandbox for an organization,
get OAuth2 client credentials, manage fake battery and PV plants with time-of-day limits, and
let Voke's own ESM client sync them and push schedule changes over the partner HTTP contract.

**Getting started.** The [admin page](/platform/voke-esm) does the first steps with buttons:
sign in as the SuperAdmin that `voke-esm serve` printed, create an organization and enable it;
the credentials appear once. The README's "The flow with curl" does the same from a shell. Here:

1. `POST /api/v1/auth/login` with the SuperAdmin's email and password; press **Authorize** and
   paste its `accessToken` under *VokeToken*: the Orgs, Voke and admin operations use it.
2. `POST /api/v1/orgs`, then `POST /api/v1/voke-esm/admin/enable?orgId=…`: it answers the
   `clientId` and `clientSecret` (shown this once).
3. **Authorize** again, under *TradingClient*, with that `clientId` and `clientSecret`: Swagger
   gets a trading token from `POST /api/v1/voke-esm/trading/token` (OAuth2 client credentials)
   and sends it with the trading operations, which answer loopback callers only.

Every error has one envelope, with the real HTTP status: `{code, details, error, message,
statusCode}`; a 400 `VALIDATION_ERROR` lists each broken field in `details.errors` as
`{field, message}`, and a 429 carries `Retry-After`. Each operation shows an example of each.
"""

OPENAPI_TAGS = (
    "Auth",
    "Users",
    "Orgs",
    "Voke plants",
    "Voke trading",
    "Voke ESM (Admin)",
    "Voke ESM (Trading)",
    "Voke ESM (Telemetry and clock)",
    "Voke ESM (Sandbox tools)",
    "Health",
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = create_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _freeze_startup_objects()
        background: list[asyncio.Task[None]] = []
        if settings.trading_sync_interval_s > 0:
            background.append(
                asyncio.create_task(
                    sync_every(
                        settings.trading_sync_interval_s,
                        services.sessionmaker,
                        services.keyring,
                        services.esm_clients,
                    ),
                    name="periodic trading sync",
                )
            )
        if settings.esm_module_enabled and settings.telemetry_interval_s > 0:
            background.append(
                asyncio.create_task(
                    publish_every(
                        settings.telemetry_interval_s,
                        services.sessionmaker,
                        services.telemetry_publisher,
                    ),
                    name="periodic telemetry",
                )
            )
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await services.esm_clients.aclose()
            await services.telemetry_publisher.aclose()
            if settings.esm_module_enabled:
                await services.journal.aclose()  # the trading calls recorded but not yet written
            await services.trading_callers.aclose()
            await engine.dispose()

    app = FastAPI(
        title="Voke ESM Sandbox",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
        dependencies=[Depends(reject_unstorable_text)],
        # The docs list the groups in this order, whatever order the routers are matched in.
        openapi_tags=[{"name": name} for name in OPENAPI_TAGS],
        # Starlette's own would build an absolute Location from the Host header; see below.
        redirect_slashes=False,
        # One schema per model in the docs ("Snapshot", not "Snapshot-Input" and "-Output").
        separate_input_output_schemas=False,
    )
    services = _build_services(settings, engine)
    store_services(app, services)

    # The whole middleware stack, outermost first (no other module adds one).
    app.user_middleware = [
        # Outermost: it counts and times every request, the refused ones included (a remote
        # trading peer, a body too large), and it sees the 500 the error fallback answers.
        Middleware(RequestMetrics, metrics=services.metrics),
        # Every trading call's entry (CONTRACT §6, §11): the loopback check and the error dialect
        # before any body or token is read, the journal of the answer, the `drop` fault, and the
        # hot reads answered through the trading pipeline. Outside the body limit, which wraps
        # `receive`: a drop needs the server's own. Off, the trading paths are 404s below.
        *(
            [
                Middleware(
                    TradingGate,
                    pipeline=services.trading_pipeline,
                    max_body_bytes=settings.max_body_bytes,
                )
            ]
            if settings.esm_module_enabled
            else []
        ),
        # 413 over the limit (CONTRACT §2), declared or streamed, before a route reads a body.
        Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
    ]
    install_error_handlers(app)
    # Off (production without VOKE_ESM_ENABLED=true), every /api/v1/voke-esm path is a 404.
    if settings.esm_module_enabled:
        # First: trading calls are the hot path, and the router tries its routes in order.
        app.include_router(esm_trading_router)
    for router in (auth_router, users_router, orgs_router, plants_router, esm_client_router):
        app.include_router(router)
    if settings.esm_module_enabled:
        app.include_router(esm_admin_router)
        app.include_router(telemetry_router)
        app.include_router(tools_router)  # §11's journal, faults, snapshot
        install_ui(app)

    _redirect_slashes_relatively(app)
    _polish_openapi(app)
    _add_root(app, settings)
    _add_probes(app)
    install_metrics(app, services.metrics, services.limiter)
    install_docs(app)
    return app


@dataclass(frozen=True, kw_only=True)
class Services(SandboxServices, VokeServices):
    """Everything `create_app` builds once: what each side's routes reach, in one object."""


def app_services(app: Starlette) -> Services:
    """The services of an app `create_app` built (tests reach its sessionmaker, pipeline…)."""
    return services_of(app, Services)


def _build_services(settings: Settings, engine: AsyncEngine) -> Services:
    keyring = Keyring.from_settings(settings)
    sessionmaker = create_sessionmaker(engine)
    callers = trading_callers(engine)
    plant_reads = PlantReads(sessionmaker, TradingReadCache())
    limiter = RateLimiter(settings.rate_limit_storage_uri)
    metrics = Metrics()
    journal = JournalRecorder(sessionmaker, keep=settings.voke_esm_journal_max)
    return Services(
        settings=settings,
        keyring=keyring,
        engine=engine,
        sessionmaker=sessionmaker,
        limiter=limiter,
        metrics=metrics,
        trading_callers=callers,
        plant_reads=plant_reads,
        journal=journal,
        trading_pipeline=TradingPipeline(
            keyring=keyring,
            callers=callers,
            sessionmaker=sessionmaker,
            limiter=limiter,
            rate_limit=settings.voke_esm_rate_limit,
            metrics=metrics,
            journal=journal,
            reads=plant_reads,
        ),
        telemetry_publisher=TelemetryPublisher(
            settings.amqp_url.get_secret_value() if settings.amqp_url else None
        ),
        esm_clients=EsmClientService(sync_lease_s=settings.trading_sync_lease_s),
        # Deleting an org cascades to its sandbox plants: their rows are locked first (lock
        # order in sandbox/locks.py). Wired here, whether the sandbox's routes are on or not,
        # since Voke's side never imports the sandbox.
        org_deletion_locks=(sandbox_locks.lock_plants_of_org,),
    )


_frozen = False


def _freeze_startup_objects() -> None:
    """Leave what start-up built (modules, routes, schemas: most of the heap) out of the garbage
    collector's full passes, once per process: walking it took a trading call up to 120 ms at
    each full collection, which is what a read's p99 saw (issue 11). Later objects are
    collected as ever."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def _polish_openapi(app: FastAPI) -> None:
    """The document FastAPI generates, finished once (core/openapi.py: no 422, a 413 on every
    body, readable titles)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = polish_openapi(generate(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _redirect_slashes_relatively(app: FastAPI) -> None:
    """`/api/v1/orgs/` answers 307 to `/api/v1/orgs` (and the other way round), as Starlette's
    `redirect_slashes` does, but with a relative Location: Starlette's is absolute, built from the
    request's Host header, so `Host: evil.example` sent the client to http://evil.example/…."""
    router = app.router
    not_found = router.default

    async def redirect_or_not_found(scope: Scope, receive: Receive, send: Send) -> None:
        twin = _slash_twin(scope["path"]) if scope["type"] == "http" else None
        if twin is not None and any(
            route.matches({**scope, "path": twin})[0] is not Match.NONE for route in router.routes
        ):
            query: bytes = scope.get("query_string", b"")
            location = f"{twin}?{query.decode('latin-1')}" if query else twin
            await RedirectResponse(location, status_code=307)(scope, receive, send)
            return
        await not_found(scope, receive, send)

    router.default = redirect_or_not_found


def _slash_twin(path: str) -> str | None:
    """`path` with its trailing slash removed or one added; None for the root, and for a path
    that, as a Location, would name another host (`//host`, `/\\host`)."""
    twin = path.rstrip("/") if path.endswith("/") else path + "/"
    if twin in ("", "/") or not twin.startswith("/") or twin[1:2] in ("/", "\\"):
        return None
    return twin


def _add_root(app: FastAPI, settings: Settings) -> None:
    target = "/platform/voke-esm" if settings.esm_module_enabled else "/docs"

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        """A newcomer opening the bare address lands on the admin page (or the docs)."""
        return RedirectResponse(target)


def _add_probes(app: FastAPI) -> None:
    @app.get(
        "/healthz",
        response_model=MessageRead,
        tags=["Health"],
        **documented("Is the process up?", answer=MessageRead(message="ok")),
    )
    async def healthz() -> MessageRead:
        """The process is up."""
        return MessageRead(message="ok")

    @app.get(
        "/readyz",
        response_model=MessageRead,
        tags=["Health"],
        **documented(
            "Does the database answer?", ServiceUnavailable, answer=MessageRead(message="ready")
        ),
    )
    async def readyz() -> MessageRead:
        """The database answers and can take a write (CONTRACT §11)."""
        await readiness.check_writable(app_services(app).engine)
        return MessageRead(message="ready")
