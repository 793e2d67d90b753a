"""Issue 10, "Secrets and hardening" and the clock: what an attacker or a careful tester found.

The `voke-esm serve` side of it (ports, printed URLs, the first SuperAdmin's password, the header
timeout on a real socket) is in tests/test_cli.py; the pages in a browser in tests/ui.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.conftest import http_client, make_settings
from tests.factories import Api, bootstrap_admin, error_body
from voke_esm.app import create_app
from voke_esm.core.config import Settings, SettingsError, load_settings
from voke_esm.core.db import create_engine

ADMIN = "/api/v1/voke-esm/admin"
SECRET = "s" * 32
MIB = 1024 * 1024  # the free space below which /readyz says not ready (voke_esm.core.readiness)


@pytest.fixture(autouse=True)
def _no_runner_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built here read the environment: the runner's own must not leak in."""
    for name in ("VOKE_ENV", "VOKE_ESM_INTERNAL_URL", "VOKE_ESM_ENABLED", "VOKE_HEADER_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)


# §11: a rotation keeps the simulated clock ------------------------------------------------------


async def read_clock(api: Api, org_id: str) -> dict[str, Any]:
    response = await api.http.get(f"{ADMIN}/clock", params={"orgId": org_id}, headers=api.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestRotationKeepsTheClock:
    async def test_rotating_the_credentials_keeps_the_advanced_clock(self, api: Api) -> None:
        org = await api.enabled_org()
        advanced = await api.http.post(
            f"{ADMIN}/clock/advance",
            params={"orgId": org.id},
            json={"minutes": 90},
            headers=api.headers,
        )
        assert advanced.status_code == 200, advanced.text
        before = await read_clock(api, org.id)

        rotated = await api.enable(org.id)
        assert rotated["clientId"] != org.client_id

        after = await read_clock(api, org.id)
        assert after["startedAt"] == before["startedAt"]
        assert after["offsetMinutes"] == before["offsetMinutes"] == 90

    async def test_enabling_again_after_a_disable_keeps_the_clock_too(self, api: Api) -> None:
        """§11: the clock starts when the org is *first* enabled."""
        org = await api.enabled_org()
        await api.http.post(
            f"{ADMIN}/clock/advance",
            params={"orgId": org.id},
            json={"minutes": 30},
            headers=api.headers,
        )
        before = await read_clock(api, org.id)
        assert (await api.disable(org.id)).status_code == 200
        await api.enable(org.id)
        after = await read_clock(api, org.id)
        assert (after["startedAt"], after["offsetMinutes"]) == (before["startedAt"], 30)


# §1: VOKE_ESM_INTERNAL_URL ----------------------------------------------------------------------


def production(**values: Any) -> Settings:
    return Settings(
        voke_env="production",
        jwt_secret=SECRET,
        voke_encryption_key=SECRET,
        voke_esm_enabled=True,
        **values,
    )


class TestEsmApiUrl:
    def test_unset_it_follows_the_port_served(self) -> None:
        settings = Settings(voke_env="test")
        assert not settings.internal_url_configured
        assert settings.esm_api_url == "http://localhost:4410/api/v1/voke-esm"
        assert settings.serving_on(5123).esm_api_url == "http://localhost:5123/api/v1/voke-esm"

    def test_configured_it_is_returned_as_given_whatever_the_port(self) -> None:
        settings = Settings(voke_env="test", voke_esm_internal_url=" http://10.0.0.5:80/esm ")
        assert settings.internal_url_configured
        assert settings.serving_on(5123).esm_api_url == "http://10.0.0.5:80/esm"

    @pytest.mark.parametrize(
        ("url", "port", "other"),
        [
            ("http://127.0.0.1:4410/api/v1/voke-esm", 5123, 4410),
            ("http://LOCALHOST:4410/api/v1/voke-esm", 5123, 4410),
            ("http://[::1]:4410/api/v1/voke-esm", 5123, 4410),
            ("http://127.0.0.1/api/v1/voke-esm", 5123, 80),
            ("http://127.0.0.1:5123/api/v1/voke-esm", 5123, None),
            ("http://esm.internal:4410/api/v1/voke-esm", 5123, None),  # not this machine: unknown
        ],
    )
    def test_a_loopback_url_on_another_port_is_told_apart(
        self, url: str, port: int, other: int | None
    ) -> None:
        settings = Settings(voke_env="test", voke_esm_internal_url=url).serving_on(port)
        assert settings.internal_url_port_mismatch() == other

    @pytest.mark.parametrize(
        "url",
        [
            "http://localhost:4410/api/v1/voke-esm",
            "http://LOCALHOST:4410/api/v1/voke-esm",
            " http://localhost:4410/api/v1/voke-esm",
            "\thttp://localhost:4410/api/v1/voke-esm",
            "HTTP://localhost:4410/api/v1/voke-esm",
            "https://localhost/api/v1/voke-esm",
            "http://localhost./api/v1/voke-esm",
            "http://esm.localhost:4410/api/v1/voke-esm",
        ],
    )
    def test_production_refuses_any_spelling_of_localhost(self, url: str) -> None:
        with pytest.raises(ValueError, match="VOKE_ESM_INTERNAL_URL"):
            production(voke_esm_internal_url=url)

    def test_production_refuses_the_default_which_is_localhost(self) -> None:
        with pytest.raises(ValueError, match="VOKE_ESM_INTERNAL_URL must be set"):
            production()

    @pytest.mark.parametrize(
        "url",
        ["http://127.0.0.1:4410/api/v1/voke-esm", "https://esm.example.com/api/v1/voke-esm"],
    )
    def test_production_accepts_a_loopback_ip_or_a_real_host(self, url: str) -> None:
        assert production(voke_esm_internal_url=url).esm_api_url == url

    @pytest.mark.parametrize(
        "url",
        [
            "localhost:4410/api/v1/voke-esm",
            "127.0.0.1:4410",
            "ftp://127.0.0.1/x",
            "http:///api/v1/voke-esm",
            "http://127.0.0.1:99999/api",
            "http://127.0.0.1:port/api",
        ],
    )
    def test_a_url_that_is_not_http_with_a_host_is_refused_in_any_environment(
        self, url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("VOKE_ENV", "development")
        monkeypatch.setenv("VOKE_ESM_INTERNAL_URL", url)
        with pytest.raises(SettingsError) as refused:
            load_settings()
        assert str(refused.value).startswith("VOKE_ESM_INTERNAL_URL must be an http")
        assert "\n" not in str(refused.value)


# Trailing-slash redirects ----------------------------------------------------------------------


@pytest.fixture
async def app_on_sqlite(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[FastAPI]:
    database = tmp_path / "voke-esm.db"
    shutil.copyfile(sqlite_template, database)
    application = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{database}"))
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        await bootstrap_admin(application)
        yield application


class TestTrailingSlashRedirects:
    @pytest.mark.parametrize(
        ("path", "location"),
        [
            ("/api/v1/orgs/", "/api/v1/orgs"),
            ("/api/v1/orgs/?limit=5&x=%2F", "/api/v1/orgs?limit=5&x=%2F"),
            ("/healthz/", "/healthz"),
            ("/api/v1/voke-esm/admin/plants/", "/api/v1/voke-esm/admin/plants"),
        ],
    )
    async def test_the_location_is_relative_whatever_the_host_header(
        self, app_on_sqlite: FastAPI, path: str, location: str
    ) -> None:
        async with http_client(app_on_sqlite) as http:
            response = await http.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 307
        assert response.headers["location"] == location

    async def test_following_it_reaches_the_route(self, app_on_sqlite: FastAPI) -> None:
        async with http_client(app_on_sqlite) as http:
            response = await http.get("/healthz/", follow_redirects=True)
        assert response.status_code == 200
        assert response.json() == {"message": "ok"}

    @pytest.mark.parametrize("path", ["//evil.example/", "/\\evil.example/", "/nope/"])
    async def test_no_redirect_that_could_leave_the_service(
        self, app_on_sqlite: FastAPI, path: str
    ) -> None:
        async with http_client(app_on_sqlite) as http:
            # An absolute URL: a bare "//evil.example/" would name another host to httpx itself.
            response = await http.get(f"http://testserver{path}", headers={"Host": "evil.example"})
        assert response.status_code == 404
        assert response.json() == error_body(404, "NOT_FOUND", "Route not found")
        assert "location" not in response.headers


# Files the service creates: its owner's only ---------------------------------------------------


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestPrivateFiles:
    async def test_the_sqlite_file_its_wal_and_its_folder_are_the_owners_only(
        self, tmp_path: Path
    ) -> None:
        folder = tmp_path / "var"
        database = folder / "voke-esm.db"
        with umask(0):  # the loosest: nothing may rely on the umask
            engine = create_engine(f"sqlite+aiosqlite:///{database}")
            try:
                async with engine.begin() as connection:
                    await connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
                    await connection.exec_driver_sql("INSERT INTO t VALUES (1)")
                written = {path.name: mode(path) for path in folder.iterdir()}
            finally:
                await engine.dispose()
        assert {"voke-esm.db", "voke-esm.db-wal", "voke-esm.db-shm"} <= set(written), written
        assert set(written.values()) == {0o600}, written
        assert mode(folder) == 0o700

    async def test_an_existing_database_file_and_folder_are_left_as_they_are(
        self, tmp_path: Path
    ) -> None:
        database = tmp_path / "voke-esm.db"
        database.touch()
        database.chmod(0o640)
        tmp_path.chmod(0o755)
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        finally:
            await engine.dispose()
        assert (mode(database), mode(tmp_path)) == (0o640, 0o755)

    def test_the_generated_secrets_folder_is_the_owners_only(self, tmp_path: Path) -> None:
        settings = Settings(voke_env="development", var_dir=tmp_path / "var")
        with umask(0):
            settings.jwt_key()
            settings.encryption_key()
        assert mode(tmp_path / "var") == 0o700
        assert {mode(path) for path in (tmp_path / "var").iterdir()} == {0o600}


# /docs and /redoc ------------------------------------------------------------------------------


class TestDocsSecurityHeaders:
    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    async def test_a_csp_with_no_inline_script_and_no_other_origin(
        self, app_on_sqlite: FastAPI, page: str
    ) -> None:
        async with http_client(app_on_sqlite) as http:
            response = await http.get(page)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        directives = {
            name: values
            for name, *values in (part.split() for part in policy.split(";") if part.strip())
        }
        assert directives["default-src"] == ["'self'"]
        assert "script-src" not in directives  # scripts fall back to 'self'
        assert directives["frame-ancestors"] == ["'none'"]
        assert directives["object-src"] == ["'none'"]
        assert "'unsafe-inline'" not in policy
        assert "'unsafe-eval'" not in policy
        assert "http" not in policy  # no other origin
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        # And nothing inline that the policy would have to allow.
        assert "<script>" not in response.text
        assert "<style" not in response.text

    async def test_swagger_keeps_the_token_for_the_session_only(
        self, app_on_sqlite: FastAPI
    ) -> None:
        async with http_client(app_on_sqlite) as http:
            html = (await http.get("/docs")).text
            init = await http.get("/docs/swagger-init.js")
        assert "persistAuthorization" not in html
        assert init.status_code == 200
        assert init.headers["content-type"].startswith("text/javascript")
        assert "persistAuthorization: false" in init.text
        assert not re.search(r"localStorage\s*\.", init.text)
        assert "sessionStorage.setItem" in init.text


# /readyz on a full disk ------------------------------------------------------------------------


def _can_mount() -> str | None:
    if not sys.platform.startswith("linux"):
        return "mounting a tmpfs needs Linux"
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if shutil.which("mount") is None:
        return "no mount command"
    return None


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: room for the migrated database, and quickly filled."""
    reason = _can_mount()
    if reason is not None:
        pytest.skip(reason)
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path) -> Path:
    """Write into `folder` until its file system refuses."""
    filler = folder / "filler"
    with filler.open("wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    return filler


NOT_WRITABLE = error_body(
    503, "SERVICE_UNAVAILABLE", "Database cannot take writes: its disk is full"
)


class TestReadyzOnAFullDisk:
    async def test_503_while_the_disk_is_full_and_ready_again_once_it_is_not(
        self, tiny_disk: Path, sqlite_template: Path, tmp_path: Path
    ) -> None:
        database = tiny_disk / "voke-esm.db"
        shutil.copyfile(sqlite_template, database)
        application = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{database}"))
        async with (
            LifespanManager(application, startup_timeout=60, shutdown_timeout=60),
            http_client(application) as http,
        ):
            assert (await http.get("/readyz")).status_code == 200

            filler = fill(tiny_disk)
            assert shutil.disk_usage(tiny_disk).free < MIB
            response = await http.get("/readyz")
            assert (response.status_code, response.json()) == (503, NOT_WRITABLE)
            assert (await http.get("/healthz")).status_code == 200  # the process is still up

            filler.unlink()
            assert (await http.get("/readyz")).status_code == 200


# The header timeout's setting ------------------------------------------------------------------


class TestHeaderTimeoutSetting:
    def test_ten_seconds_unless_configured(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert load_settings().header_timeout_s == 10
        monkeypatch.setenv("VOKE_HEADER_TIMEOUT_S", "2.5")
        assert load_settings().header_timeout_s == 2.5

    @pytest.mark.parametrize("value", ["0", "-1", "soon"])
    def test_a_bound_that_is_not_positive_is_refused(
        self, value: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("VOKE_HEADER_TIMEOUT_S", value)
        with pytest.raises(SettingsError, match="VOKE_HEADER_TIMEOUT_S"):
            load_settings()
