"""`voke-esm`: serve the sandbox, migrate its database, create SuperAdmins."""

from __future__ import annotations

import asyncio
import copy
import gc
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from uvicorn.config import LOGGING_CONFIG

from voke_esm.core.config import Settings, SettingsError, load_settings
from voke_esm.core.http_timeouts import header_timeout_protocol

app = typer.Typer(
    name="voke-esm",
    help="Voke ESM Sandbox: a stand-in partner ESM for exercising Voke's trading flow.",
    no_args_is_help=True,
    add_completion=False,
)

DEFAULT_ADMIN_EMAIL = "admin@voke-esm.local"


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"voke-esm: refusing to start: {exc}", err=True)
        raise typer.Exit(1) from None


def _step(message: str) -> None:
    typer.echo(f"• {message}")


def _migrate(settings: Settings) -> None:
    from voke_esm.migrations import is_at_head, upgrade_to_head

    url = settings.resolved_database_url
    # Alembic is slow to load and run; a database already at the newest revision (every start
    # but the first) skips it.
    if is_at_head(url):
        _step(f"No database migrations to apply to {_safe_url(url)}")
    else:
        _step(f"Applying database migrations to {_safe_url(url)}")
        upgrade_to_head(url)
    _step("Database schema is up to date")


def _safe_url(url: str) -> str:
    """The database URL without its password, fit to print."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@dataclass(frozen=True, slots=True)
class FirstAdmin:
    """The SuperAdmin `serve` creates when there is none (CONTRACT §1)."""

    email: str
    password: str
    generated: bool  # False: the operator's VOKE_ADMIN_PASSWORD, which is never printed


_ADMIN_VARIABLES = {"email": "VOKE_ADMIN_EMAIL", "password": "VOKE_ADMIN_PASSWORD"}


def _first_admin(settings: Settings) -> FirstAdmin:
    """VOKE_ADMIN_EMAIL and VOKE_ADMIN_PASSWORD held to the rules the API holds a new user to
    (`UserCreate`: an email, a password of at least 8 characters); otherwise a refusal to start,
    one line naming the variable (and never its value)."""
    from pydantic import ValidationError

    from voke_esm.voke.auth.models import Role
    from voke_esm.voke.auth.schemas import UserCreate

    # Set but empty counts as unset, as for VOKE_ESM_INTERNAL_URL.
    given = settings.voke_admin_password.get_secret_value() if settings.voke_admin_password else ""
    password = given or secrets.token_urlsafe(12)
    try:
        user = UserCreate(
            email=(settings.voke_admin_email or DEFAULT_ADMIN_EMAIL).strip(),
            password=password,
            role=Role.SUPER_ADMIN,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = _ADMIN_VARIABLES.get(str(error["loc"][-1]), "VOKE_ADMIN_EMAIL")
        typer.echo(f"voke-esm: refusing to start: {variable}: {error['msg']}", err=True)
        raise typer.Exit(1) from None
    return FirstAdmin(user.email, user.password, generated=not given)


async def _ensure_super_admin(settings: Settings, admin: FirstAdmin) -> bool:
    from voke_esm.core.db import create_engine, create_sessionmaker, session_scope
    from voke_esm.voke.auth import service as auth_service

    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            return await auth_service.ensure_super_admin(
                session, email=admin.email, password=admin.password
            )
    finally:
        await engine.dispose()


def _announce_esm_api_url(settings: Settings) -> None:
    """Say where Voke will send an org's credentials, and warn when that is another port of this
    machine than the one served: whatever listens there would receive them (CONTRACT §1)."""
    _step(f"ESM API URL returned to Voke: {settings.esm_api_url}")
    other_port = settings.internal_url_port_mismatch()
    if other_port is not None:
        typer.echo(
            f"voke-esm: warning: VOKE_ESM_INTERNAL_URL points at port {other_port} on this"
            f" machine, but this service listens on port {settings.serve_port}: Voke will send"
            " the orgs' credentials to whatever listens there",
            err=True,
        )


def _logging_config() -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["voke_esm"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 4410,
) -> None:
    """Apply migrations, make sure a SuperAdmin exists, and serve the HTTP API."""
    settings = _settings().serving_on(port)
    admin = _first_admin(settings)
    _migrate(settings)
    if asyncio.run(_ensure_super_admin(settings, admin)):
        typer.echo("")
        if admin.generated:
            typer.echo("  SuperAdmin created (the password is shown this once):")
            typer.echo(f"    email:    {admin.email}")
            typer.echo(f"    password: {admin.password}")
        else:
            typer.echo(f"  SuperAdmin {admin.email} created, with VOKE_ADMIN_PASSWORD as password")
        typer.echo("")
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    _step(f"API docs:   {base}/docs")
    _step(f"Admin page: {base}/platform/voke-esm")
    _announce_esm_api_url(settings)

    from voke_esm.app import create_app

    service = create_app(settings)
    # What is built by now (modules, the app, its routes and models) lives as long as the
    # process: kept out of the garbage collector's full passes, which would otherwise walk it all
    # and stall requests for tens of milliseconds now and then.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        service,
        host=host,
        port=port,
        http=header_timeout_protocol(settings.header_timeout_s),
        # The loopback guard judges the TCP peer; never let X-Forwarded-For rewrite it.
        proxy_headers=False,
        server_header=False,
        log_config=_logging_config(),
    )


@app.command()
def migrate() -> None:
    """Apply the database migrations (serve does this too)."""
    _migrate(_settings())


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(help="the SuperAdmin's email")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, help="at least 8 characters"
        ),
    ],
) -> None:
    """Create a SuperAdmin account."""
    from pydantic import ValidationError

    from voke_esm.core.db import create_engine, create_sessionmaker, session_scope
    from voke_esm.core.errors import AppError
    from voke_esm.voke.auth import service as auth_service
    from voke_esm.voke.auth.models import Role
    from voke_esm.voke.auth.schemas import UserCreate

    settings = _settings()
    try:
        user = UserCreate(email=email, password=password, role=Role.SUPER_ADMIN)
    except ValidationError as exc:
        problems = "; ".join(f"{error['loc'][-1]}: {error['msg']}" for error in exc.errors())
        typer.echo(f"voke-esm: {problems}", err=True)
        raise typer.Exit(2) from None
    _migrate(settings)

    async def create() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with session_scope(create_sessionmaker(engine)) as session:
                await auth_service.create_user(
                    session,
                    email=user.email,
                    password=user.password,
                    role=Role.SUPER_ADMIN,
                    org_id=None,
                )
        finally:
            await engine.dispose()

    try:
        asyncio.run(create())
    except AppError as exc:
        typer.echo(f"voke-esm: {exc.message}", err=True)
        raise typer.Exit(1) from None
    _step(f"SuperAdmin {user.email} created")


@app.command()
def smoke(
    base_url: Annotated[
        str | None,
        typer.Option(help="a running service, e.g. http://127.0.0.1:4410; default: start one"),
    ] = None,
    email: Annotated[
        str | None, typer.Option(envvar="VOKE_ADMIN_EMAIL", help="a SuperAdmin's email")
    ] = None,
    password: Annotated[
        str | None, typer.Option(envvar="VOKE_ADMIN_PASSWORD", help="that SuperAdmin's password")
    ] = None,
    log_file: Annotated[
        Path | None,
        typer.Option(help="the running service's log, to check the applied-config line"),
    ] = None,
) -> None:
    """Run the seed's end-to-end smoke test, printing each step."""
    from voke_esm import smoke as smoke_test

    typer.echo("Voke ESM end-to-end smoke test")
    passed = smoke_test.run(
        base_url=base_url, email=email, password=password, log_file=log_file, echo=typer.echo
    )
    typer.echo("Smoke test passed." if passed else "Smoke test FAILED.")
    raise typer.Exit(0 if passed else 1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
