"""CONTRACT §1 end to end: the `voke-esm` command as a real process on a real loopback port."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from alembic import command as alembic_command
from alembic.script import ScriptDirectory

from tests.factories import error_body
from voke_esm.migrations import alembic_config, is_at_head, script_head, upgrade_to_head

VOKE_ESM = str(Path(sys.executable).with_name("voke-esm"))
# Variables the service reads; the runner's own must not leak into the processes under test.
SETTINGS_VARIABLES = {
    "DATABASE_URL",
    "JWT_SECRET",
    "RATE_LIMIT_STORAGE_URL",
    "AMQP_URL",
    "TRADING_SYNC_INTERVAL_S",
    "TELEMETRY_INTERVAL_S",
    "MAX_BODY_BYTES",
}
SECRET_32_BYTES = "s" * 32  # exactly the minimum §1 accepts in production
INVALID_CLIENT = error_body(401, "INVALID_CLIENT", "Invalid client credentials")
ROUTE_NOT_FOUND = error_body(404, "NOT_FOUND", "Route not found")
SQLITE_MAGIC = b"SQLite format 3\x00"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**variables: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("VOKE_") and name.upper() not in SETTINGS_VARIABLES
    }
    return {**env, **variables}


def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VOKE_ESM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    workdir: Path
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(workdir: Path, env: dict[str, str], logs: Path, *args: str) -> Server:
    """`voke-esm serve [args]` in `workdir`, returned once /healthz answers; stopped if it never
    does."""
    port = free_port()
    stdout_path, stderr_path = logs / f"serve-{port}.out", logs / f"serve-{port}.err"
    # Files, not pipes: an undrained pipe would block the server once it fills.
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [VOKE_ESM, "serve", "--port", str(port), *args],
            cwd=workdir,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    server = Server(process, f"http://127.0.0.1:{port}", workdir, stdout_path, stderr_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"serve exited {process.returncode}: {stderr_path.read_text()}"
                )
            try:
                if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"serve never became healthy: {stderr_path.read_text()}")
            time.sleep(0.1)
    except BaseException:
        server.stop()
        raise


@pytest.fixture(scope="module")
def first_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The first start in an empty folder, with no configuration at all."""
    server = start_server(
        tmp_path_factory.mktemp("workdir"), clean_env(), tmp_path_factory.mktemp("logs")
    )
    try:
        yield server
    finally:
        server.stop()


def printed_credentials(stdout: str) -> tuple[str, str]:
    email = re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", stdout)
    password = re.search(r"password\s*:\s*(\S+)", stdout, flags=re.IGNORECASE)
    assert email is not None, stdout
    assert password is not None, stdout
    return email.group(0), password.group(1)


def login(server: Server, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/api/v1/auth/login", json={"email": email, "password": password}
    )


class TestFirstStart:
    def test_prints_a_superadmin_email_and_password_that_log_in(self, first_start: Server) -> None:
        email, password = printed_credentials(first_start.stdout)
        response = login(first_start, email, password)
        assert response.status_code == 200, response.text
        me = httpx.get(
            f"{first_start.base_url}/api/v1/auth/me",
            headers={"Authorization": f"Bearer {response.json()['accessToken']}"},
        )
        assert me.json()["role"] == "SUPER_ADMIN"

    @pytest.mark.parametrize("path", ["/docs", "/platform/voke-esm"])
    def test_prints_working_urls_of_the_docs_and_the_admin_page(
        self, first_start: Server, path: str
    ) -> None:
        url = f"{first_start.base_url}{path}"
        assert url in first_start.stdout
        response = httpx.get(url, follow_redirects=True)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")

    def test_var_holds_the_sqlite_database(self, first_start: Server) -> None:
        files = [path for path in (first_start.workdir / "var").iterdir() if path.is_file()]
        assert [path for path in files if path.read_bytes()[:16] == SQLITE_MAGIC], files

    def test_var_holds_the_generated_jwt_secret_readable_by_its_owner_only(
        self, first_start: Server
    ) -> None:
        (secret,) = (first_start.workdir / "var").glob("*jwt*")
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert len(secret.read_bytes().strip()) >= 32

    def test_hands_out_the_port_it_serves_in_esm_api_url_and_prints_it(
        self, first_start: Server
    ) -> None:
        """§1: with no VOKE_ESM_INTERNAL_URL, Voke's calls (and the org's credentials) go to the
        port `serve --port` listens on, not to 4410, where something else may listen."""
        expected = f"http://localhost:{first_start.port}/api/v1/voke-esm"
        assert f"ESM API URL returned to Voke: {expected}" in first_start.stdout
        assert "warning" not in first_start.stderr.lower(), first_start.stderr
        email, password = printed_credentials(first_start.stdout)
        headers = {
            "Authorization": f"Bearer {login(first_start, email, password).json()['accessToken']}"
        }
        org = httpx.post(
            f"{first_start.base_url}/api/v1/orgs", json={"name": "Port check"}, headers=headers
        )
        assert org.status_code == 201, org.text
        params = {"orgId": org.json()["id"]}
        enabled = httpx.post(
            f"{first_start.base_url}/api/v1/voke-esm/admin/enable", params=params, headers=headers
        )
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["esmApiUrl"] == expected
        status = httpx.get(
            f"{first_start.base_url}/api/v1/voke-esm/admin/status", params=params, headers=headers
        )
        assert status.json()["esmApiUrl"] == expected

    def test_the_real_loopback_peer_passes_the_trading_guard(self, first_start: Server) -> None:
        response = httpx.post(
            f"{first_start.base_url}/api/v1/voke-esm/trading/token",
            json={"clientId": "vesm-bogus-1", "clientSecret": "not-the-secret"},
        )
        assert response.status_code == 401
        assert response.json() == INVALID_CLIENT

    def test_forwarding_headers_do_not_make_a_loopback_peer_remote(
        self, first_start: Server
    ) -> None:
        # §6: only the TCP peer counts; uvicorn must not rewrite it from proxy headers either.
        response = httpx.post(
            f"{first_start.base_url}/api/v1/voke-esm/trading/token",
            json={"clientId": "vesm-bogus-2", "clientSecret": "not-the-secret"},
            headers={
                "X-Forwarded-For": "10.1.2.3",
                "X-Real-IP": "10.1.2.3",
                "Forwarded": "for=10.1.2.3",
            },
        )
        assert response.status_code == 401
        assert response.json() == INVALID_CLIENT


class TestSecondStart:
    def test_prints_no_password_and_keeps_the_secret_and_the_superadmin(
        self, first_start: Server, tmp_path: Path
    ) -> None:
        email, password = printed_credentials(first_start.stdout)
        (secret,) = (first_start.workdir / "var").glob("*jwt*")
        secret_before = secret.read_bytes()
        token = login(first_start, email, password).json()["accessToken"]

        second = start_server(first_start.workdir, clean_env(), tmp_path)
        try:
            assert "password" not in second.stdout.lower(), second.stdout
            assert password not in second.stdout
            assert secret.read_bytes() == secret_before
            # The same generated secret: a token of the first start is valid on the second.
            me = httpx.get(
                f"{second.base_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
            )
            assert me.status_code == 200, me.text
            assert me.json()["email"] == email
        finally:
            second.stop()


class TestProductionRefusals:
    @pytest.mark.parametrize(
        ("variables", "named"),
        [
            ({"VOKE_ENCRYPTION_KEY": SECRET_32_BYTES}, "JWT_SECRET"),
            ({"JWT_SECRET": "0123456789", "VOKE_ENCRYPTION_KEY": SECRET_32_BYTES}, "JWT_SECRET"),
            ({"JWT_SECRET": SECRET_32_BYTES}, "VOKE_ENCRYPTION_KEY"),
            ({"JWT_SECRET": SECRET_32_BYTES, "VOKE_ENCRYPTION_KEY": "k" * 31},
             "VOKE_ENCRYPTION_KEY"),
            (
                {
                    "JWT_SECRET": SECRET_32_BYTES,
                    "VOKE_ENCRYPTION_KEY": SECRET_32_BYTES,
                    "VOKE_ESM_ENABLED": "true",
                    "VOKE_ESM_INTERNAL_URL": "http://localhost:4410/api/v1/voke-esm",
                },
                "VOKE_ESM_INTERNAL_URL",
            ),
            (
                {
                    "JWT_SECRET": SECRET_32_BYTES,
                    "VOKE_ENCRYPTION_KEY": SECRET_32_BYTES,
                    "VOKE_ESM_ENABLED": "true",
                    "VOKE_ESM_INTERNAL_URL": "http://LOCALHOST:4410/api/v1/voke-esm",
                },
                "VOKE_ESM_INTERNAL_URL",
            ),
            (
                {
                    "JWT_SECRET": SECRET_32_BYTES,
                    "VOKE_ENCRYPTION_KEY": SECRET_32_BYTES,
                    "VOKE_ESM_ENABLED": "true",
                    "VOKE_ESM_INTERNAL_URL": " http://localhost:4410/api/v1/voke-esm",
                },
                "VOKE_ESM_INTERNAL_URL",
            ),
            (
                {
                    "JWT_SECRET": SECRET_32_BYTES,
                    "VOKE_ENCRYPTION_KEY": SECRET_32_BYTES,
                    "VOKE_ESM_ENABLED": "true",
                },
                "VOKE_ESM_INTERNAL_URL",
            ),
        ],
        ids=["jwt-secret-unset", "jwt-secret-10-bytes", "encryption-key-unset",
             "encryption-key-31-bytes", "internal-url-localhost", "internal-url-LOCALHOST",
             "internal-url-leading-space", "internal-url-unset"],
    )  # fmt: skip
    def test_serve_exits_non_zero_with_one_line_naming_the_variable(
        self, tmp_path: Path, variables: dict[str, str], named: str
    ) -> None:
        env = clean_env(VOKE_ENV="production", **variables)
        result = run("serve", "--port", str(free_port()), cwd=tmp_path, env=env)
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert named in lines[0]


OPERATOR_EMAIL = "ops@example.com"
OPERATOR_PASSWORD = "operator-chosen-Passw0rd-7f3a"
# Port 1: never the port a test server gets, so the URL always points elsewhere on this machine.
ELSEWHERE_URL = "http://127.0.0.1:1/api/v1/voke-esm"
HEADER_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def configured_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The first start with the operator's SuperAdmin, an internal URL on another port of this
    machine and a short header timeout."""
    env = clean_env(
        VOKE_ADMIN_EMAIL=OPERATOR_EMAIL,
        VOKE_ADMIN_PASSWORD=OPERATOR_PASSWORD,
        VOKE_ESM_INTERNAL_URL=ELSEWHERE_URL,
        VOKE_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
    )
    server = start_server(
        tmp_path_factory.mktemp("configured"), env, tmp_path_factory.mktemp("logs")
    )
    try:
        yield server
    finally:
        server.stop()


class TestOperatorSettings:
    def test_the_operators_password_is_never_printed_and_logs_in(
        self, configured_start: Server
    ) -> None:
        output = configured_start.stdout + configured_start.stderr
        assert OPERATOR_PASSWORD not in output
        assert OPERATOR_EMAIL in configured_start.stdout  # which account was made is said
        assert login(configured_start, OPERATOR_EMAIL, OPERATOR_PASSWORD).status_code == 200

    def test_prints_the_configured_url_and_warns_once_that_it_is_another_port(
        self, configured_start: Server
    ) -> None:
        assert f"ESM API URL returned to Voke: {ELSEWHERE_URL}" in configured_start.stdout
        warnings = [
            line
            for line in (configured_start.stdout + configured_start.stderr).splitlines()
            if "warning" in line.lower()
        ]
        assert len(warnings) == 1, warnings
        assert "VOKE_ESM_INTERNAL_URL" in warnings[0]
        assert "port 1 " in warnings[0]
        assert f"port {configured_start.port}" in warnings[0]

    def test_a_password_the_api_would_refuse_refuses_to_start(self, tmp_path: Path) -> None:
        """The API asks a new user for at least 8 characters (auth.schemas.UserCreate)."""
        env = clean_env(VOKE_ADMIN_PASSWORD="short7!")
        result = run("serve", "--port", str(free_port()), cwd=tmp_path, env=env)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "VOKE_ADMIN_PASSWORD" in lines[0]
        assert "8 characters" in lines[0]
        assert "short7!" not in result.stdout + result.stderr
        assert not (tmp_path / "var" / "voke-esm.db").exists()  # refused before anything

    def test_an_email_the_api_would_refuse_refuses_to_start(self, tmp_path: Path) -> None:
        env = clean_env(VOKE_ADMIN_EMAIL="not-an-email", VOKE_ADMIN_PASSWORD=OPERATOR_PASSWORD)
        result = run("serve", "--port", str(free_port()), cwd=tmp_path, env=env)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "VOKE_ADMIN_EMAIL" in lines[0]
        assert OPERATOR_PASSWORD not in result.stdout + result.stderr


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes `sock` (reading and dropping whatever it sends), or None
    if it is still open after `seconds`."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


# The bound: the timeout, plus the server's and this machine's slack (2 cores, shared).
CLOSE_BOUND_S = HEADER_TIMEOUT_S + 3


class TestRequestHeaderTimeout:
    """A client that never finishes its headers must not hold a connection (and with enough of
    them the server) for ever: `serve` closes it after VOKE_HEADER_TIMEOUT_S."""

    def test_a_partial_request_line_then_silence_is_closed(self, configured_start: Server) -> None:
        with connect(configured_start) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1")
            elapsed = closed_within(sock, CLOSE_BOUND_S)
        assert elapsed is not None, "the connection is still open"
        assert elapsed >= HEADER_TIMEOUT_S * 0.8

    def test_a_connection_that_sends_nothing_is_closed(self, configured_start: Server) -> None:
        with connect(configured_start) as sock:
            assert closed_within(sock, CLOSE_BOUND_S) is not None

    def test_dripping_a_byte_now_and_then_does_not_keep_it_open(
        self, configured_start: Server
    ) -> None:
        """The bound is on the whole header, not on the gap between two bytes."""
        drip = iter(b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 100)
        with connect(configured_start) as sock:
            start = time.monotonic()
            closed_after = None
            while closed_after is None and time.monotonic() - start < CLOSE_BOUND_S:
                try:
                    sock.sendall(bytes([next(drip)]))
                except OSError:
                    closed_after = time.monotonic() - start
                    break
                closed_after = closed_within(sock, HEADER_TIMEOUT_S / 5)
                if closed_after is not None:
                    closed_after = time.monotonic() - start
        assert closed_after is not None, "still open after dripping for the whole bound"

    def test_a_later_request_on_a_kept_alive_connection_is_bound_too(
        self, configured_start: Server
    ) -> None:
        with connect(configured_start) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            first = sock.recv(4096)
            assert first.startswith(b"HTTP/1.1 200"), first
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 12")
            assert closed_within(sock, CLOSE_BOUND_S) is not None

    def test_a_request_sent_in_time_is_answered_as_before(self, configured_start: Server) -> None:
        with connect(configured_start) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            time.sleep(HEADER_TIMEOUT_S / 2)
            sock.sendall(b"Connection: close\r\n\r\n")
            sock.settimeout(5)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert answer.endswith(b'{"message":"ok"}')
        assert httpx.get(f"{configured_start.base_url}/readyz").status_code == 200


@pytest.mark.parametrize(
    "url", ["sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite://", "sqlite:///file:x?mode=memory"]
)
def test_an_in_memory_sqlite_database_is_refused_with_one_line(tmp_path: Path, url: str) -> None:
    """The migrations would build the schema in one connection's database, the service answer
    from another's: refused before anything starts, in any environment."""
    result = run("serve", "--port", str(free_port()), cwd=tmp_path, env=clean_env(DATABASE_URL=url))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0]
    assert "in-memory" in lines[0]


ESM_PATHS = [
    ("POST", "/api/v1/voke-esm/admin/enable?orgId=00000000-0000-0000-0000-000000000000"),
    ("GET", "/api/v1/voke-esm/admin/status?orgId=00000000-0000-0000-0000-000000000000"),
    ("GET", "/api/v1/voke-esm/admin/plants"),
    ("DELETE", "/api/v1/voke-esm/admin/plants/00000000-0000-0000-0000-000000000000"),
    ("POST", "/api/v1/voke-esm/trading/token"),
    ("GET", "/api/v1/voke-esm/trading/plant/list"),
    ("GET", "/api/v1/voke-esm/trading/plant/config?plantId=PLANT-001"),
    ("POST", "/api/v1/voke-esm/trading/plant/config/update"),
    ("GET", "/api/v1/voke-esm"),
]


class TestProductionWithoutTheEsmModule:
    def test_serves_and_every_voke_esm_path_is_404(self, tmp_path: Path) -> None:
        env = clean_env(
            VOKE_ENV="production", JWT_SECRET=SECRET_32_BYTES, VOKE_ENCRYPTION_KEY=SECRET_32_BYTES
        )
        (tmp_path / "logs").mkdir()
        server = start_server(tmp_path, env, tmp_path / "logs")
        try:
            email, password = printed_credentials(server.stdout)
            token = login(server, email, password).json()["accessToken"]
            for method, path in ESM_PATHS:
                response = httpx.request(
                    method,
                    f"{server.base_url}{path}",
                    json={},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert (response.status_code, response.json()) == (404, ROUTE_NOT_FOUND), path
        finally:
            server.stop()


class TestCommands:
    def test_help_lists_the_commands(self, tmp_path: Path) -> None:
        result = run("--help", cwd=tmp_path, env=clean_env())
        assert result.returncode == 0, result.stderr
        for command in ("serve", "migrate", "create-admin", "smoke"):
            assert re.search(rf"^\W*{command}\b", result.stdout, flags=re.MULTILINE), result.stdout

    def test_migrate_creates_the_schema_under_var_and_says_so(self, tmp_path: Path) -> None:
        result = run("migrate", cwd=tmp_path, env=clean_env())
        assert result.returncode == 0, result.stderr
        assert "migration" in result.stdout.lower(), result.stdout
        (database,) = (
            path for path in (tmp_path / "var").iterdir() if path.read_bytes()[:16] == SQLITE_MAGIC
        )
        with sqlite3.connect(database) as connection:
            tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
            versions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        assert {"voke_esm_plants", "alembic_version"} <= tables
        assert len(versions) == 1

    def test_create_admin_makes_a_superadmin_who_can_log_in(self, first_start: Server) -> None:
        result = run(
            "create-admin",
            "--email",
            "x@example.com",
            "--password",
            "longpassword1",
            cwd=first_start.workdir,
            env=clean_env(),
        )
        assert result.returncode == 0, result.stderr
        assert "x@example.com" in result.stdout
        assert "longpassword1" not in result.stdout + result.stderr
        response = login(first_start, "x@example.com", "longpassword1")
        assert response.status_code == 200, response.text


def stored_versions(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [name for (name,) in connection.execute("SELECT version_num FROM alembic_version")]


class TestMigrationsAtHead:
    """A start on a database already at the newest revision skips Alembic; any other migrates."""

    def test_the_head_read_from_the_scripts_is_alembics(self) -> None:
        scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
        assert script_head() == scripts.get_current_head()

    @pytest.mark.parametrize(
        ("scripts", "head"),
        [
            (['revision = "a"\ndown_revision = None', 'revision = "b"\ndown_revision = "a"'], "b"),
            (
                [
                    'revision: str = "a"\ndown_revision: str | None = None',
                    'revision: str = "b"\ndown_revision: str | None = "a"',
                    'revision: str = "c"\ndown_revision: str | None = "a"',
                    'revision = "m"\ndown_revision = ("b", "c")',
                ],
                "m",
            ),
            (
                [
                    'revision = "a"\ndown_revision = None',
                    'revision = "b"\ndown_revision = "a"',
                    'revision = "c"\ndown_revision = "a"',
                ],
                None,
            ),
            (['revision = "a"\ndown_revision = None', 'revision = "b"\ndown_revision = "x"'], None),
            (['revision = "a"\ndown_revision = None', 'revision = f()\ndown_revision = "a"'], None),
            (['revision = "a"\ndown_revision = None', 'revision = "b"'], None),
            ([], None),
        ],
        ids=[
            "chain",
            "merged-branches",
            "two-heads",
            "missing-parent",
            "computed-revision",
            "no-down-revision",
            "no-scripts",
        ],
    )
    def test_an_unclear_head_is_none_so_that_alembic_decides(
        self, tmp_path: Path, scripts: list[str], head: str | None
    ) -> None:
        for number, source in enumerate(scripts):
            (tmp_path / f"script_{number}.py").write_text(source + "\n")
        (tmp_path / "__init__.py").write_text('revision = "not-a-script"\n')
        assert script_head(tmp_path) == head

    def test_is_at_head_only_once_every_migration_is_applied(self, tmp_path: Path) -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'voke-esm.db'}"
        assert not is_at_head(url)  # no database yet
        upgrade_to_head(url)
        assert is_at_head(url)
        with sqlite3.connect(tmp_path / "voke-esm.db") as connection:
            connection.execute("UPDATE alembic_version SET version_num = 'not-a-revision'")
        assert not is_at_head(url)

    def test_migrate_twice_applies_once_then_says_there_is_nothing_to_apply(
        self, tmp_path: Path
    ) -> None:
        first = run("migrate", cwd=tmp_path, env=clean_env())
        assert first.returncode == 0, first.stderr
        assert "Applying database migrations to sqlite+aiosqlite:///" in first.stdout
        assert "Database schema is up to date" in first.stdout

        second = run("migrate", cwd=tmp_path, env=clean_env())
        assert second.returncode == 0, second.stderr
        assert "Applying" not in second.stdout, second.stdout
        assert "No database migrations to apply to sqlite+aiosqlite:///" in second.stdout
        assert "Database schema is up to date" in second.stdout
        assert stored_versions(tmp_path / "var" / "voke-esm.db") == [script_head()]

    def test_a_database_behind_the_head_is_migrated_to_it(self, tmp_path: Path) -> None:
        database = tmp_path / "var" / "voke-esm.db"
        database.parent.mkdir()
        config = alembic_config(f"sqlite+aiosqlite:///{database}")
        head = ScriptDirectory.from_config(config).get_revision("head")
        assert head is not None
        assert isinstance(head.down_revision, str)
        alembic_command.upgrade(config, head.down_revision)

        result = run("migrate", cwd=tmp_path, env=clean_env())
        assert result.returncode == 0, result.stderr
        assert "Applying database migrations" in result.stdout, result.stdout
        assert stored_versions(database) == [head.revision]


# Issue 12: the CLI's messages, as a newcomer meets them ---------------------------------------

PYDANTIC_PHRASES = ("Value error", "Input should", "String should", "pattern", "^", "type=")


def assert_plain(text: str) -> None:
    """No pydantic phrase, regular expression or traceback in what the user reads."""
    for phrase in PYDANTIC_PHRASES:
        assert phrase not in text, text
    assert "Traceback" not in text, text


def run_closed_stdin(
    *args: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The command with stdin closed: anything that prompts gets EOF at once, never hangs."""
    return subprocess.run(
        [VOKE_ESM, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


class TestServePort:
    def test_a_busy_port_is_one_line_naming_it_before_anything_else(self, tmp_path: Path) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = run("serve", "--port", str(port), cwd=tmp_path, env=clean_env())
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout == ""  # nothing printed before the check
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert str(port) in lines[0]
        assert "--port" in lines[0]
        assert_plain(result.stderr)
        assert not (tmp_path / "var").exists()  # refused before the migrations

    @pytest.mark.parametrize("port", ["0", "70000", "-1"])
    def test_a_port_outside_1_to_65535_is_a_usage_error(self, tmp_path: Path, port: str) -> None:
        result = run("serve", "--port", port, cwd=tmp_path, env=clean_env())
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stdout == ""
        assert "Usage: voke-esm serve" in result.stderr
        assert "--port" in result.stderr
        assert "1 to 65535" in result.stderr
        assert not (tmp_path / "var").exists()


class TestListeningUrls:
    @pytest.mark.parametrize(
        ("host", "url"),
        [
            ("127.0.0.1", "http://127.0.0.1:4410"),
            ("localhost", "http://localhost:4410"),
            ("::1", "http://[::1]:4410"),
            ("0.0.0.0", "http://127.0.0.1:4410"),
            ("::", "http://[::1]:4410"),
        ],
    )
    def test_the_printed_url_is_one_this_machine_can_open(self, host: str, url: str) -> None:
        from voke_esm.cli import local_base_url

        assert local_base_url(host, 4410) == url


class TestCreateAdminInput:
    def test_a_bad_email_is_refused_in_plain_words_before_any_prompt(self, tmp_path: Path) -> None:
        result = run_closed_stdin(
            "create-admin", "--email", "not-an-email", cwd=tmp_path, env=clean_env()
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert "password" not in result.stdout.lower()  # never asked for
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "'not-an-email' is not an email address" in lines[0]
        assert_plain(result.stdout + result.stderr)
        assert not (tmp_path / "var").exists()

    def test_a_short_password_option_is_refused_in_plain_words(self, tmp_path: Path) -> None:
        result = run_closed_stdin(
            "create-admin", "--email", "a@example.com", "--password", "short7!",
            cwd=tmp_path, env=clean_env(),
        )  # fmt: skip
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "at least 8 characters" in lines[0]
        assert "short7!" not in result.stdout + result.stderr
        assert_plain(result.stdout + result.stderr)
        assert not (tmp_path / "var").exists()

    def test_a_short_typed_password_is_refused_before_it_is_asked_again(
        self, tmp_path: Path
    ) -> None:
        result = subprocess.run(
            [VOKE_ESM, "create-admin", "--email", "a@example.com"],
            cwd=tmp_path,
            env=clean_env(),
            input="short7!\n",  # then EOF
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert "at least 8 characters" in output
        assert "repeat" not in output.lower(), output  # not asked twice for a refused password
        assert_plain(output)

    def test_an_existing_email_says_how_to_set_a_new_password(self, first_start: Server) -> None:
        email, _ = printed_credentials(first_start.stdout)
        result = run_closed_stdin(
            "create-admin", "--email", email, "--password", "another-long-password",
            cwd=first_start.workdir, env=clean_env(),
        )  # fmt: skip
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "already exists" in lines[0]
        assert "--reset" in lines[0]


class TestCreateAdminReset:
    def test_reset_sets_a_new_password_that_logs_in_on_the_services_database(
        self, first_start: Server
    ) -> None:
        email, old, new = "lost@example.com", "first-password-1", "second-password-2"
        env = clean_env()
        made = run_closed_stdin(
            "create-admin", "--email", email, "--password", old, cwd=first_start.workdir, env=env
        )
        assert made.returncode == 0, made.stderr
        assert login(first_start, email, old).status_code == 200

        reset = run_closed_stdin(
            "create-admin", "--reset", "--email", email, "--password", new,
            cwd=first_start.workdir, env=env,
        )  # fmt: skip
        assert reset.returncode == 0, reset.stdout + reset.stderr
        assert f"New password set for SuperAdmin {email}" in reset.stdout
        assert new not in reset.stdout + reset.stderr
        assert login(first_start, email, new).status_code == 200
        assert login(first_start, email, old).status_code == 401

    def test_reset_asks_twice_when_no_password_is_given(self, first_start: Server) -> None:
        email, new = "asked@example.com", "typed-password-3"
        env = clean_env()
        made = run_closed_stdin(
            "create-admin", "--email", email, "--password", "first-password-3",
            cwd=first_start.workdir, env=env,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        reset = subprocess.run(
            [VOKE_ESM, "create-admin", "--reset", "--email", email],
            cwd=first_start.workdir,
            env=env,
            input=f"{new}\n{new}\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert reset.returncode == 0, reset.stdout + reset.stderr
        assert login(first_start, email, new).status_code == 200

    def test_reset_of_an_unknown_email_is_one_plain_line(self, first_start: Server) -> None:
        result = run_closed_stdin(
            "create-admin", "--reset", "--email", "nobody@example.com", "--password",
            "whatever-password", cwd=first_start.workdir, env=clean_env(),
        )  # fmt: skip
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines == ["voke-esm: there is no SuperAdmin with the email nobody@example.com"]


def help_commands() -> list[list[str]]:
    return [[], ["serve"], ["migrate"], ["create-admin"], ["smoke"]]


class TestHelpAndVersion:
    @pytest.mark.parametrize("command", help_commands(), ids=lambda c: " ".join(c) or "voke-esm")
    def test_dash_h_is_help_on_every_command(self, tmp_path: Path, command: list[str]) -> None:
        short = run(*command, "-h", cwd=tmp_path, env=clean_env())
        long = run(*command, "--help", cwd=tmp_path, env=clean_env())
        assert short.returncode == 0, short.stderr
        assert short.stdout == long.stdout
        assert "Usage: voke-esm" in short.stdout

    @pytest.mark.parametrize("command", help_commands(), ids=lambda c: " ".join(c) or "voke-esm")
    def test_help_shows_no_types_and_no_seed(self, tmp_path: Path, command: list[str]) -> None:
        result = run(*command, "--help", cwd=tmp_path, env=clean_env())
        for type_name in ("<str>", "<int>", "<bool>", "<path>", "TEXT", "INTEGER", "PATH"):
            assert type_name not in result.stdout, result.stdout
        # "the seed's" (the seed documents' words) is not for users; `serve --seed` (§13) is.
        assert "the seed's" not in result.stdout.lower(), result.stdout

    def test_create_admin_help_does_not_call_the_prompted_password_required(
        self, tmp_path: Path
    ) -> None:
        result = run("create-admin", "--help", cwd=tmp_path, env=clean_env())
        (line,) = [line for line in result.stdout.splitlines() if "--password" in line]
        assert "required" not in line.lower(), result.stdout

    def test_version_prints_the_packages_version(self, tmp_path: Path) -> None:
        from importlib.metadata import version

        result = run("--version", cwd=tmp_path, env=clean_env())
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"voke-esm {version('voke-esm')}\n"


class TestTheDatabaseLine:
    def test_migrate_first_names_the_default_database_and_where_it_comes_from(
        self, tmp_path: Path
    ) -> None:
        result = run("migrate", cwd=tmp_path, env=clean_env())
        assert result.returncode == 0, result.stderr
        first = result.stdout.splitlines()[0]
        database = tmp_path.resolve() / "var" / "voke-esm.db"
        assert first == f"• Using the database at {database} (the default: ./var/ of this folder)"

    def test_create_admin_elsewhere_than_the_service_says_so_plainly(self, tmp_path: Path) -> None:
        result = run_closed_stdin(
            "create-admin", "--email", "a@example.com", "--password", "long-enough-1",
            cwd=tmp_path, env=clean_env(),
        )  # fmt: skip
        lines = result.stdout.splitlines()
        database = tmp_path.resolve() / "var" / "voke-esm.db"
        assert lines[0] == (
            f"• Using the database at {database} (the default: ./var/ of this folder)"
        )
        assert "no database" in lines[1].lower(), result.stdout
        assert "folder the service runs in" in lines[1], result.stdout

    def test_a_configured_database_is_named_with_its_password_hidden(self) -> None:
        from voke_esm.cli import database_line
        from voke_esm.core.config import Settings

        settings = Settings(database_url="postgresql+asyncpg://voke:s3cret@db:5432/voke_esm")
        line = database_line(settings)
        assert (
            line
            == "Using the database postgresql+asyncpg://voke:***@db:5432/voke_esm (DATABASE_URL)"
        )

    def test_serve_names_its_database_first(self, first_start: Server) -> None:
        first = first_start.stdout.splitlines()[0]
        database = first_start.workdir.resolve() / "var" / "voke-esm.db"
        assert first.startswith(f"• Using the database at {database} (the default"), first


class TestSettingsMessages:
    @pytest.mark.parametrize(
        ("variable", "value", "says"),
        [
            ("TRADING_SYNC_INTERVAL_S", "-1", "TRADING_SYNC_INTERVAL_S must be at least 0"),
            ("TRADING_SYNC_INTERVAL_S", "soon", "TRADING_SYNC_INTERVAL_S must be a number"),
            ("VOKE_ESM_JOURNAL_MAX", "0", "VOKE_ESM_JOURNAL_MAX must be at least 1"),
            ("VOKE_ESM_TOKEN_TTL_S", "x", "VOKE_ESM_TOKEN_TTL_S must be a whole number"),
            ("VOKE_ENV", "prod", "VOKE_ENV must be 'development', 'test' or 'production'"),
            ("VOKE_ESM_ENABLED", "maybe", "VOKE_ESM_ENABLED must be true or false"),
            ("VOKE_LOGIN_RATE_LIMIT", "lots", "VOKE_LOGIN_RATE_LIMIT must be a rate limit"),
            ("TRADING_SYNC_LEASE_S", "5000", "TRADING_SYNC_LEASE_S must be at most 3600"),
        ],
    )
    def test_a_bad_setting_is_one_sentence_naming_the_variable(
        self, tmp_path: Path, variable: str, value: str, says: str
    ) -> None:
        result = run("migrate", cwd=tmp_path, env=clean_env(**{variable: value}))
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert says in lines[0]
        assert_plain(lines[0])


def test_the_api_docs_do_not_speak_of_the_seed(tmp_path: Path) -> None:
    """Issue 12: "the seed's" means nothing to a reader of /docs."""
    import json

    from voke_esm.app import create_app
    from voke_esm.core.config import Settings

    settings = Settings(var_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    assert "seed's" not in json.dumps(create_app(settings).openapi()).lower()


# `serve --seed FILE` (CONTRACT §13) --------------------------------------------------------------

SEED_DOCUMENT = {
    "orgs": [
        {
            "name": "Acme",
            "plants": [{"externalPlantId": "ACME-1", "name": "Acme one"}],
            "faults": {"rules": [], "tokenTtlSeconds": 120},
        }
    ]
}


def printed_client(stdout: str) -> tuple[str, str]:
    client_id = re.search(r"clientId:\s*(\S+)", stdout)
    client_secret = re.search(r"clientSecret:\s*(\S+)", stdout)
    assert client_id is not None, stdout
    assert client_secret is not None, stdout
    return client_id.group(1), client_secret.group(1)


class TestSeed:
    def test_a_seed_is_applied_once_with_its_credentials_printed_once(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        workdir, logs = tmp_path_factory.mktemp("workdir"), tmp_path_factory.mktemp("logs")
        seed = workdir / "sandbox.json"
        seed.write_text(json.dumps(SEED_DOCUMENT))

        first = start_server(workdir, clean_env(), logs, "--seed", str(seed))
        try:
            client_id, client_secret = printed_client(first.stdout)
            token = httpx.post(
                f"{first.base_url}/api/v1/voke-esm/trading/token",
                json={"clientId": client_id, "clientSecret": client_secret},
            )
            plants = httpx.get(
                f"{first.base_url}/api/v1/voke-esm/trading/plant/list",
                headers={"Authorization": f"Bearer {token.json()['accessToken']}"},
            )
        finally:
            first.stop()
        second = start_server(workdir, clean_env(), logs, "--seed", str(seed))
        second.stop()

        assert "• Seed: Acme: created, enabled, 1 plant created, faults set" in first.stdout
        assert first.stdout.count(client_secret) == 1
        assert token.status_code == 200, token.text
        assert token.json()["expiresIn"] == 120  # the seed's token lifetime
        assert [plant["plantId"] for plant in plants.json()] == ["ACME-1"]
        assert "• Seed: Acme: as seeded already, unchanged" in second.stdout
        assert "clientSecret" not in second.stdout
        assert client_secret not in second.stdout + second.stderr

    @pytest.mark.parametrize(
        ("content", "problem"),
        [
            (None, "the seed file {path} does not exist"),
            ("{orgs: []}", "the seed file {path} is not JSON: Expecting property name enclosed "
             "in double quotes at line 1, column 2"),
            ('{"orgs": [{"plants": []}]}', "the seed file {path} is not valid: orgs[0].name: "
             "Field required"),
            ('{"orgs": [{"name": "A", "plants": [{"clientId": "x", "externalPlantId": "P", '
             '"name": "p"}]}]}', "the seed file {path} is not valid: orgs[0].plants[0]: has a "
             "clientId: leave it out, the org's own is used"),
            ('{"orgs": [{"name": "A", "plants": [{"externalPlantId": "P", "name": "p", '
             '"timeConfigs": [{"from": "00:00", "to": "23:59", "pBatMax": 1, "pBatMin": 1, '
             '"socMax": 90, "socMin": 20}]}]}]}', "the seed file {path} is not valid: "
             "orgs[0].plants[0].timeConfigs[0].pBatMin: must be <= 0 (discharge power is "
             "negative)"),
        ],
    )  # fmt: skip
    def test_a_bad_seed_file_is_one_line_and_a_non_zero_exit(
        self, tmp_path: Path, content: str | None, problem: str
    ) -> None:
        seed = tmp_path / "seed.json"
        if content is not None:
            seed.write_text(content)

        result = run(
            "serve", "--port", str(free_port()), "--seed", str(seed), cwd=tmp_path, env=clean_env()
        )

        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stderr == f"voke-esm: {problem.format(path=seed)}\n"
        assert "clientSecret" not in result.stdout
