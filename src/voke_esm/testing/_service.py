"""The sandbox service run inside the test process: a free loopback port, a temporary SQLite
database, uvicorn in a background thread. The only module of `voke_esm.testing` that imports
the service, and only when a sandbox is started."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import socket
import sqlite3
import tempfile
import threading
import uuid
import weakref
from pathlib import Path

import uvicorn
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from voke_esm.core.config import ESM_API_PATH, Settings

START_TIMEOUT_S = 30.0
ADMIN_EMAIL = "sandbox-admin@voke-esm.test"
DATABASE_FILE = "voke-esm.db"


class SandboxSettings(Settings):
    """Only what `InProcessService` gives: the test process's environment (a DATABASE_URL, an
    AMQP_URL, VOKE_ENV) belongs to the code under test, never to this sandbox."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


class InProcessService:
    """One service, from `start()` to `stop()`; its database folder is removed by `stop()`."""

    def __init__(self, *, rate_limit: str) -> None:
        self.rate_limit = rate_limit
        self.admin_token = ""
        self.folder = Path(tempfile.mkdtemp(prefix="voke-esm-sandbox-"))
        # Removed by stop(), or at the latest when the interpreter exits (a sandbox never closed).
        self._remove_folder = weakref.finalize(self, shutil.rmtree, self.folder, True)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def start(self) -> str:
        """Start serving; the base URL once the service answers (its lifespan has run)."""
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind(("127.0.0.1", 0))
            self._thread = threading.Thread(
                target=self._run, name=f"voke-esm sandbox :{self.port}", daemon=True
            )
            self._thread.start()
            if not self._ready.wait(START_TIMEOUT_S):
                raise RuntimeError(f"the sandbox did not start within {START_TIMEOUT_S:g} s")
            if self._failure is not None or not (self._server and self._server.started):
                raise RuntimeError(f"the sandbox failed to start: {self._failure!r}") from (
                    self._failure
                )
        except BaseException:
            self.stop()
            raise
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
        self._socket.close()
        self._remove_folder()

    def _run(self) -> None:
        try:
            from voke_esm.app import create_app

            settings = self._settings()
            self.admin_token = self._admin_token(settings)
            config = uvicorn.Config(
                create_app(settings),
                host="127.0.0.1",
                port=self.port,
                proxy_headers=False,  # the loopback guard judges the TCP peer (CONTRACT §6)
                server_header=False,
                log_config=None,
                log_level=logging.WARNING,
                timeout_graceful_shutdown=5,
            )
            self._server = _Server(config, self._ready)
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            return
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:
            self._failure = exc
        finally:
            self._ready.set()  # a server that stopped before it started

    def _settings(self) -> Settings:
        return SandboxSettings(
            voke_env="test",
            var_dir=self.folder,
            database_url=f"sqlite+aiosqlite:///{self.folder / DATABASE_FILE}",
            jwt_secret=secrets.token_urlsafe(48),
            voke_encryption_key=secrets.token_urlsafe(48),
            voke_esm_enabled=True,
            # 127.0.0.1, not §1's default `localhost`, which may name ::1 first: nothing listens
            # there.
            voke_esm_internal_url=f"http://127.0.0.1:{self.port}{ESM_API_PATH}",
            voke_esm_rate_limit=self.rate_limit,
            # Sign-ins are the library's own, a few per run: never a reason for a 429.
            login_rate_limit="100000/minute",
            login_peer_rate_limit="100000/minute",
            voke_token_ttl_seconds=30 * 24 * 3600,  # the session's one token outlives any run
        ).serving_on(self.port)

    def _admin_token(self, settings: Settings) -> str:
        """A SuperAdmin's token, minted with this service's key: no sign-in, so no password
        hashed or checked (argon2 is made to be slow)."""
        from voke_esm.core.security import VOKE_ISSUER, Keyring
        from voke_esm.voke.auth.models import Role

        admin_id = _database_from_template(self.folder / DATABASE_FILE)
        return Keyring.from_settings(settings).issue_token(
            issuer=VOKE_ISSUER,
            subject=admin_id,
            ttl_seconds=settings.voke_token_ttl_seconds,
            role=Role.SUPER_ADMIN,
        )


def _database_from_template(database: Path) -> str:
    """A migrated database with one SuperAdmin at `database`; the SuperAdmin's id.

    Copied from a template kept in the temporary folder, made on the first start of this
    version of the migrations on this machine: migrating takes a few hundred milliseconds,
    copying one. The SuperAdmin's password is random and forgotten at once (its token is minted).
    """
    from voke_esm.migrations import VERSIONS_DIR, script_head

    stamp = max((path.stat().st_mtime_ns for path in VERSIONS_DIR.glob("*.py")), default=0)
    cache = Path(tempfile.gettempdir()) / f"voke-esm-sandbox-templates-{os.getuid()}"
    template = cache / f"template-{script_head()}-{stamp}.db"
    if not template.exists():
        _build_template(database)
        cache.mkdir(mode=0o700, exist_ok=True)
        partial = cache / f"{template.name}.{os.getpid()}.{threading.get_ident()}"
        shutil.copyfile(database, partial)
        os.replace(partial, template)  # atomic: a concurrent start sees all of it or none
    else:
        shutil.copyfile(template, database)
    with contextlib.closing(sqlite3.connect(database)) as connection:
        row = connection.execute("SELECT id FROM users WHERE email = ?", (ADMIN_EMAIL,)).fetchone()
    return str(uuid.UUID(hex=row[0]))


def _build_template(database: Path) -> None:
    from voke_esm.core.db import create_engine, create_sessionmaker, session_scope
    from voke_esm.migrations import upgrade_to_head
    from voke_esm.voke.auth import service as auth_service

    url = f"sqlite+aiosqlite:///{database}"
    upgrade_to_head(url)

    async def add_admin() -> None:
        engine = create_engine(url)
        try:
            async with session_scope(create_sessionmaker(engine)) as session:
                await auth_service.ensure_super_admin(
                    session, email=ADMIN_EMAIL, password=secrets.token_urlsafe(24)
                )
        finally:
            await engine.dispose()

    asyncio.run(add_admin())
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all of it in the one file


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it is up: its lifespan has run and it accepts."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready_event = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._ready_event.set()
