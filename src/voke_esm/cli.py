"""`voke-esm`: serve the sandbox, migrate its database, create SuperAdmins."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import gc
import json
import logging
import secrets
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from uvicorn.config import LOGGING_CONFIG

from voke_esm import __version__
from voke_esm.core.config import Settings, SettingsError, load_settings
from voke_esm.core.http_timeouts import header_timeout_protocol

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

    from voke_esm.core.schemas import FieldError
    from voke_esm.sandbox.seed.schemas import SeedDocument
    from voke_esm.sandbox.seed.service import SeededOrg

app = typer.Typer(
    name="voke-esm",
    help="Voke ESM Sandbox: a stand-in partner ESM for exercising Voke's trading flow.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help: each option with a word for its value (metavar), never a type name.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DEFAULT_ADMIN_EMAIL = "admin@voke-esm.local"
DEFAULT_DATABASE = "./var/"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"voke-esm {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    pass


def _fail(message: str, code: int = 1) -> typer.Exit:
    """One plain line on stderr; raise what this returns to end the command with `code`."""
    if not message[1:2].isupper():  # "There is" reads "voke-esm: there is"; NAMES stay
        message = message[:1].lower() + message[1:]
    typer.echo(f"voke-esm: {message}", err=True)
    return typer.Exit(code)


def _settings(*, starting: bool = False) -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise _fail(f"refusing to start: {exc}" if starting else str(exc)) from None


def _step(message: str) -> None:
    typer.echo(f"• {message}")


def _default_sqlite_path(settings: Settings) -> Path | None:
    """The SQLite file the settings point at, or None for another database."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database).resolve()


def database_line(settings: Settings) -> str:
    """Which database a command uses, and why that one: CONTRACT §1 keeps the default SQLite
    file under ./var/ of the working directory, so a command run in another folder than the
    service's would otherwise quietly use another database."""
    path = _default_sqlite_path(settings)
    if settings.database_url:
        where = f"at {path}" if path is not None else _safe_url(settings.database_url)
        return f"Using the database {where} (DATABASE_URL)"
    if "var_dir" in settings.model_fields_set:
        origin = "under VOKE_VAR_DIR"
    else:
        origin = f"the default: {DEFAULT_DATABASE} of this folder"
    return f"Using the database at {path} ({origin})"


def _announce_database(settings: Settings, *, maintenance: bool) -> None:
    """The first line of every command that touches the database. `maintenance`: a command
    other than `serve`, which says so when there is no database where it looks."""
    _step(database_line(settings))
    path = _default_sqlite_path(settings)
    if maintenance and path is not None and not path.exists():
        _step(
            "No database exists there yet, so a new one is made: to use the service's, run this"
            " command in the folder the service runs in (or with its DATABASE_URL)"
        )


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
        problem = _user_problem(exc.errors()[0], _ADMIN_VARIABLES)
        raise _fail(f"refusing to start: {problem}") from None
    return FirstAdmin(user.email, user.password, generated=not given)


_CLI_NAMES = {"email": "the email", "password": "the password"}


def _user_problem(error: ErrorDetails, names: dict[str, str], field: str | None = None) -> str:
    """A refusal of UserCreate (the API's rules for a new user) as a plain sentence naming the
    field as `names` has it (an option, a variable): never a pattern or pydantic's words."""
    if field is None:
        field = str(error["loc"][-1]) if error["loc"] else ""
    name = names.get(field, field)
    ctx = error.get("ctx", {})
    if error["type"] == "string_too_short":
        return f"{name} is too short: use at least {ctx['min_length']} characters"
    if error["type"] == "string_too_long":
        return f"{name} is too long: use at most {ctx['max_length']} characters"
    if field == "email":
        return f"{name} {error['input']!r} is not an email address"
    return f"{name} is not valid"


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


def _logging_config(log_file: Path | None) -> dict[str, Any]:
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["voke_esm"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    if log_file is not None:
        # The service's log records (never the first-run password, which is printed, not
        # logged), also to a file: what `smoke --log-file` reads (CONTRACT §9).
        config["formatters"]["file"] = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
        config["handlers"]["file"] = {
            "class": "logging.FileHandler",
            "filename": str(log_file),
            "formatter": "file",
        }
        for logger in ("voke_esm", "uvicorn", "uvicorn.access"):
            config["loggers"][logger]["handlers"].append("file")
    return config


def _port(value: str) -> int:
    """A TCP port, with a plain sentence for anything else (not pydantic's parsing words)."""
    try:
        port = int(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise typer.BadParameter(f"{port} is not a TCP port: use one from 1 to 65535")
    return port


def _listen(host: str, port: int) -> socket.socket:
    """The service's listening socket, made before anything is printed or migrated: a port
    taken by another program is one line that says so, not a traceback after the start-up.
    Bound as uvicorn binds (SO_REUSEADDR, IPv6 for a host with a colon) and listening at once,
    so that no other process can take the port while the migrations run."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except socket.gaierror:
        sock.close()
        raise _fail(f"cannot listen on {host}: no such host name or address") from None
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            message = (
                f"port {port} on {host} is already in use by another program:"
                f" stop it, or choose another port with --port"
            )
        elif exc.errno == errno.EACCES:
            message = f"port {port} needs administrator rights: choose one above 1023 with --port"
        elif exc.errno == errno.EADDRNOTAVAIL:
            message = f"cannot listen on {host}: this machine has no such address (see --host)"
        else:
            message = f"cannot listen on {host} port {port}: {exc.strerror or exc}"
        raise _fail(message) from None
    return sock


_EVERY_INTERFACE = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def local_base_url(host: str, port: int) -> str:
    """The service's base URL as this machine opens it: the host as given, except for an
    every-interface address, which a browser cannot open: its loopback address there."""
    host = _EVERY_INTERFACE.get(host, host)
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def _read_seed(path: Path) -> SeedDocument:
    """The seed document in `path` (CONTRACT §13), or one line saying what is wrong with it."""
    from voke_esm.core.errors import field_errors
    from voke_esm.sandbox.seed.schemas import SeedDocument

    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise _fail(f"the seed file {path} does not exist") from None
    except OSError as exc:
        raise _fail(f"cannot read the seed file {path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise _fail(f"the seed file {path} is not JSON: {exc.msg} at {where}") from None
    except (ValueError, RecursionError):  # not UTF-8, or nested too deep
        raise _fail(f"the seed file {path} is not JSON text") from None
    try:
        return SeedDocument.model_validate(document)
    except ValidationError as exc:
        raise _seed_refused(path, field_errors(exc.errors())) from None


def _seed_refused(path: Path, errors: Sequence[FieldError]) -> typer.Exit:
    first = errors[0]
    more = len(errors) - 1
    also = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return _fail(f"the seed file {path} is not valid: {first['field']}: {first['message']}{also}")


async def _apply_seed(settings: Settings, path: Path, document: SeedDocument) -> list[SeededOrg]:
    from voke_esm.core.db import create_engine, create_sessionmaker, session_scope
    from voke_esm.core.errors import AppError, ValidationFailed
    from voke_esm.core.security import Keyring
    from voke_esm.sandbox.seed import service as seed_service

    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            return await seed_service.apply_seed(
                session,
                Keyring.from_settings(settings),
                document,
                esm_api_url=settings.esm_api_url,
            )
    except ValidationFailed as exc:
        raise _seed_refused(path, exc.details["errors"]) from None
    except AppError as exc:
        raise _fail(f"the seed file {path} could not be applied: {exc.message}") from None
    finally:
        await engine.dispose()


def _announce_seeded(seeded: list[SeededOrg]) -> None:
    """A line per org of the seed; the credentials it issued, once, as enabling shows them."""
    for org in seeded:
        plants = len(org.plants_created)
        done = [
            *(["created"] if org.created else []),
            *(["enabled"] if org.credentials else []),
            *([f"{plants} plant{'' if plants == 1 else 's'} created"] if plants else []),
            *(["faults set"] if org.faults_set else []),
            *(["clock set"] if org.clock_set else []),
        ]
        _step(f"Seed: {org.name}: {', '.join(done) if done else 'as seeded already, unchanged'}")
    for org in seeded:
        if org.credentials is None:
            continue
        typer.echo("")
        typer.echo(f"  Voke ESM enabled for {org.name} (the secret is shown this once):")
        typer.echo(f"    clientId:     {org.credentials.client_id}")
        typer.echo(f"    clientSecret: {org.credentials.client_secret}")
        typer.echo(f"    esmApiUrl:    {org.credentials.esm_api_url}")
    if any(org.credentials for org in seeded):
        typer.echo("")


@app.command(short_help="Migrate, make sure a SuperAdmin exists, and serve the API.")
def serve(
    host: Annotated[
        str, typer.Option(metavar="HOST", help="interface to listen on (0.0.0.0: every one)")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            metavar="PORT",
            help="TCP port, 1 to 65535",
            parser=_port,
        ),
    ] = 4410,
    log_file: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="also write the service's log to this file (appended), for smoke"
        ),
    ] = None,
    seed: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="a JSON document of orgs (their plants, faults and clock) to create and enable"
            " where missing",
        ),
    ] = None,
) -> None:
    """Apply migrations, make sure a SuperAdmin exists, and serve the HTTP API."""
    listener = _listen(host, port)
    seed_document = None if seed is None else _read_seed(seed)
    settings = _settings(starting=True).serving_on(port)
    admin = _first_admin(settings)
    _announce_database(settings, maintenance=False)
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
    if seed is not None and seed_document is not None:
        _announce_seeded(asyncio.run(_apply_seed(settings, seed, seed_document)))
    if host in _EVERY_INTERFACE:
        _step(
            f"Listening on every network interface (--host {host}), port {port}; on this machine:"
        )
    base = local_base_url(host, port)
    _step(f"API docs:   {base}/docs")
    _step(f"Admin page: {base}/platform/voke-esm")
    _announce_esm_api_url(settings)
    if log_file is not None:
        log_file = log_file.resolve()
        _step(f"Log file:   {log_file}")

    from voke_esm.app import create_app

    service = create_app(settings)
    # What is built by now (modules, the app, its routes and models) lives as long as the
    # process: kept out of the garbage collector's full passes, which would otherwise walk it all
    # and stall requests for tens of milliseconds now and then.
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        service,
        host=host,
        port=port,
        http=header_timeout_protocol(settings.header_timeout_s),
        # The loopback guard judges the TCP peer; never let X-Forwarded-For rewrite it.
        proxy_headers=False,
        server_header=False,
        log_config=_logging_config(log_file),
    )
    server = _Server(config)
    # uvicorn.run, on the socket made above (uvicorn.run cannot take one).
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listener])
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE; it has logged why


class _Server(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # uvicorn says where it listens only for a socket it made itself; this one is ours.
        if self.started and sockets:
            name = sockets[0].getsockname()
            host = f"[{name[0]}]" if ":" in name[0] else name[0]
            logging.getLogger("uvicorn.error").info(
                "Uvicorn running on http://%s:%d (Press CTRL+C to quit)", host, name[1]
            )


@app.command()
def migrate() -> None:
    """Apply the database migrations (serve does this too)."""
    settings = _settings()
    _announce_database(settings, maintenance=True)
    _migrate(settings)


def _checked_email(email: str) -> str:
    """The email as the API takes it for a new user (its `Email` type), or a usage error."""
    from pydantic import TypeAdapter

    from voke_esm.voke.auth.schemas import Email

    try:
        return str(TypeAdapter(Email).validate_python(email))
    except ValidationError as exc:
        raise _fail(_user_problem(exc.errors()[0], _CLI_NAMES, field="email"), 2) from None


def _password_problem(email: str, password: str) -> str | None:
    """What the API would say of this password for a new user (UserCreate), in plain words."""
    from voke_esm.voke.auth.models import Role
    from voke_esm.voke.auth.schemas import UserCreate

    try:
        UserCreate(email=email, password=password, role=Role.SUPER_ADMIN)
    except ValidationError as exc:
        return _user_problem(exc.errors()[0], _CLI_NAMES)
    return None


def _asked_password(email: str) -> str:
    """The password typed twice, hidden; held to the API's rules before it is asked again.
    (click's own confirmation prompt checks only after both, and hides why it refused.)"""
    from annotated_types import MinLen

    from voke_esm.voke.auth.schemas import UserCreate

    rules = UserCreate.model_fields["password"].metadata
    least = next(rule.min_length for rule in rules if isinstance(rule, MinLen))
    while True:
        password = str(typer.prompt(f"Password (at least {least} characters)", hide_input=True))
        problem = _password_problem(email, password)
        if problem is not None:
            typer.echo(f"{problem[:1].upper()}{problem[1:]}.", err=True)
            continue
        if typer.prompt("Repeat for confirmation", hide_input=True) == password:
            return password
        typer.echo("The two passwords differ; once more.", err=True)


@app.command("create-admin", short_help="Create a SuperAdmin, or give one a new password.")
def create_admin(
    email: Annotated[str, typer.Option(metavar="EMAIL", help="the SuperAdmin's email")],
    password: Annotated[
        str | None,
        typer.Option(
            metavar="PASSWORD",
            envvar="VOKE_ADMIN_PASSWORD",
            show_envvar=True,
            help="at least 8 characters; asked for (twice, hidden) when not given",
        ),
    ] = None,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="set a new password for this existing SuperAdmin (a lost first-run password)",
        ),
    ] = False,
) -> None:
    """Create a SuperAdmin account, or with --reset give an existing one a new password."""
    from voke_esm.core.db import create_engine, create_sessionmaker, session_scope
    from voke_esm.core.errors import AppError
    from voke_esm.voke.auth import service as auth_service
    from voke_esm.voke.auth.models import Role

    settings = _settings()
    # What the command line gives is checked before anything is asked or touched.
    email = _checked_email(email)
    if password is not None and (problem := _password_problem(email, password)) is not None:
        raise _fail(problem, 2)
    _announce_database(settings, maintenance=not reset)
    path = _default_sqlite_path(settings)
    if reset and path is not None and not path.exists():
        raise _fail(
            f"there is no database at {path}: run this in the folder the service runs in"
            " (or with its DATABASE_URL)"
        )
    checked = password if password is not None else _asked_password(email)
    _migrate(settings)

    async def store() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with session_scope(create_sessionmaker(engine)) as session:
                if reset:
                    await auth_service.set_super_admin_password(
                        session, email=email, password=checked
                    )
                else:
                    await auth_service.create_user(
                        session, email=email, password=checked, role=Role.SUPER_ADMIN, org_id=None
                    )
        finally:
            await engine.dispose()

    try:
        asyncio.run(store())
    except auth_service.EmailTaken as exc:
        raise _fail(f"{exc.message}: to give it a new password, add --reset") from None
    except AppError as exc:
        raise _fail(exc.message) from None
    if reset:
        _step(f"New password set for SuperAdmin {email}")
    else:
        _step(f"SuperAdmin {email} created")


@app.command(short_help="Run the end-to-end smoke test, printing each step.")
def smoke(
    base_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="a running service, e.g. http://127.0.0.1:4410; default: start one",
        ),
    ] = None,
    email: Annotated[
        str | None,
        typer.Option(metavar="EMAIL", envvar="VOKE_ADMIN_EMAIL", help="a SuperAdmin's email"),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(
            metavar="PASSWORD", envvar="VOKE_ADMIN_PASSWORD", help="that SuperAdmin's password"
        ),
    ] = None,
    log_file: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="the running service's log (serve --log-file), to check the applied-config line",
        ),
    ] = None,
) -> None:
    """Run the end-to-end smoke test against a sandbox, printing each step."""
    from voke_esm import smoke as smoke_test

    if log_file is not None and base_url is None:
        raise _fail(
            "--log-file goes with --base-url: without it, smoke starts a sandbox and reads its log",
            2,
        )
    if log_file is not None and not log_file.is_file():
        raise _fail(f"the log file {log_file} does not exist", 2)
    typer.echo("Voke ESM end-to-end smoke test")
    passed = smoke_test.run(
        base_url=base_url, email=email, password=password, log_file=log_file, echo=typer.echo
    )
    typer.echo("Smoke test passed." if passed else "Smoke test FAILED.")
    raise typer.Exit(0 if passed else 1)


@app.command(short_help="Check an ESM (the sandbox or a partner's) against the contract.")
def conformance(
    base_url: Annotated[
        str,
        typer.Option(
            metavar="URL",
            help="the ESM's API base, as Voke stores it (esmApiUrl),"
            " e.g. http://127.0.0.1:4410/api/v1/voke-esm",
        ),
    ],
    client_id: Annotated[
        str,
        typer.Option(
            metavar="ID", help="the client id; the secret is read from VOKE_ESM_CLIENT_SECRET"
        ),
    ],
    allow_writes: Annotated[
        bool,
        typer.Option(
            "--allow-writes",
            help="also apply updates to --plant-id, and put its original blocks back at the end",
        ),
    ] = False,
    plant_id: Annotated[
        str | None,
        typer.Option(metavar="P", help="the plant the updates use (default: the first listed)"),
    ] = None,
    rate_limit: Annotated[
        str,
        typer.Option(metavar="LIMIT", help="the ESM's limit per endpoint, e.g. 10/minute"),
    ] = "10/minute",
    report_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="write conformance.json, conformance.junit.xml and conformance.html here",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ID",
            help="run only these checks (IDs or patterns such as 'DRY-*'; repeat or separate"
            " with commas)",
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="replace the reports an earlier run left in --report-dir"),
    ] = False,
) -> None:
    """Check an ESM against sections 2, 5 and 6 of the contract, safely unless --allow-writes.

    Exit status: 0 every MUST check passed, 1 one did not, 2 usage error, 3 the ESM cannot be
    reached or refused the credentials, 4 no check ran.
    """
    import os

    from voke_esm.conformance import runner

    options = runner.Options(
        base_url=base_url,
        client_id=client_id,
        client_secret=os.environ.get(runner.SECRET_VARIABLE, ""),
        rate_limit=rate_limit,
        allow_writes=allow_writes,
        plant_id=plant_id,
        report_dir=report_dir,
        only=tuple(only or ()),
        overwrite=overwrite,
    )
    try:
        runner.check_usage(options)
    except runner.UsageError as exc:
        raise _fail(str(exc), runner.ExitCode.USAGE) from None
    # Voke's ESM client says when it waits out a Retry-After: shown as it happens. For this run
    # only: the command may run inside another program (a test suite), whose logging it keeps.
    client_log = logging.getLogger("voke_esm.esm_client")
    stamina_log = logging.getLogger("stamina")
    shown = logging.StreamHandler(sys.stderr)
    shown.setLevel(logging.INFO)
    silenced = logging.NullHandler()  # the line above says it
    level = client_log.level
    if client_log.getEffectiveLevel() > logging.INFO:
        client_log.setLevel(logging.INFO)
    client_log.addHandler(shown)
    stamina_log.addHandler(silenced)
    try:
        code = asyncio.run(runner.run(options, typer.echo))
    finally:
        client_log.removeHandler(shown)
        stamina_log.removeHandler(silenced)
        client_log.setLevel(level)
    raise typer.Exit(code)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
