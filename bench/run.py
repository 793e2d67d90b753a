"""Benchmarks of the service against two baselines, all on 127.0.0.1; writes docs/PERFORMANCE.md.

    .venv/bin/python bench/run.py                 # the whole run, about 12 minutes on 2 cores
    .venv/bin/python bench/run.py --duration 1 --rounds 1   # a quick look, noisier figures
    .venv/bin/python bench/run.py --no-postgres   # SQLite only

Needs `wrk` (Debian/Ubuntu: `apt-get install -y wrk`). Not part of the test suite.

What it does:
1. `voke-esm migrate` a fresh SQLite file; start `voke-esm serve` once to sign in, create an org
   and enable it (a real clientId, secret and trading token); stop it.
2. Seed with direct SQL: 100 plants for that client (a copy of this is the 100-plant database),
   then 999 other orgs with 100 plants each: 100,000 plants in all. Time the pieces of a start.
3. Start, side by side: the service on the 100,000-plant database and on the 100-plant one
   (VOKE_ESM_RATE_LIMIT raised so the limiter never refuses), bare Starlette and FastAPI +
   pydantic serving the service's own answers from memory (bench/baseline_*.py). Each start is
   timed from process start to the first /readyz 200.
4. wrk at 1 and 32 connections on plant/list, plant/config, config/update (distinct request codes,
   bench/wrk.lua), token and the admin list of 10,000 plants, noting the server's CPU time per
   request. Every server runs pinned to CPU 0 and wrk to CPU 1 (taskset); each cell (an endpoint
   at a connection count) runs its servers back to back, `--rounds` times, and keeps the medians.
   Then the trading reads alone and beside a loop of admin lists; plant/config alternately on
   the 100-plant and the 100,000-plant database; the trading endpoints on PostgreSQL (a database
   of its own, dropped at the end); and bench/components.py, the pieces of a request in-process.
5. Writes the tables between the markers in docs/PERFORMANCE.md and prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from voke_esm.voke.orgs.models import name_key

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DOC = ROOT / "docs" / "PERFORMANCE.md"
LUA = BENCH / "wrk.lua"
VENV_BIN = Path(sys.executable).parent
VOKE = VENV_BIN / "voke-esm"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

TRADING = "/api/v1/voke-esm/trading"
ADMIN = "/api/v1/voke-esm/admin"
ADMIN_EMAIL, ADMIN_PASSWORD = "bench@voke-esm.local", "bench-password-0123456789"
CLIENT_PLANTS, OTHER_ORGS, PLANTS_PER_OTHER_ORG = 100, 999, 100
ADMIN_LIST_SIZE = 10_000
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "postgres"}


# Processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Each server runs on one core and the load generator on the other: unpinned, the scheduler moves
# them about and the figures of one run differ from the next by half. The servers of a cell run
# back to back on the same core, so they meet the same machine.
SERVER_CPU, LOAD_CPU = "0", "1"


def can_pin() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(argv: list[str], cpu: str) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if can_pin() else argv


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, in MiB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    ready_s: float = 0.0
    idle_rss_mb: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.peak_rss_mb = memory_mb(self.process.pid)["VmHWM"]
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(name: str, argv: list[str], env: dict[str, str], port: int, workdir: Path) -> Server:
    """Start a server and time it from process start to the first /readyz 200."""
    log = workdir / f"{name}.log"
    began = time.perf_counter()
    process = subprocess.Popen(
        pinned(argv, SERVER_CPU),
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    server = Server(name, process, port, log)
    deadline = began + 120
    with httpx.Client(timeout=2) as http:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{name} exited while starting:\n{log.read_text()[-3000:]}")
            try:
                if http.get(f"{server.base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline:
                server.stop()
                raise SystemExit(f"{name} not ready within 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.005)
    server.ready_s = time.perf_counter() - began
    server.idle_rss_mb = memory_mb(process.pid)["VmRSS"]
    print(f"  {name}: ready in {server.ready_s:.2f} s, idle RSS {server.idle_rss_mb:.0f} MiB")
    return server


@contextmanager
def running(servers: list[Server]) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()


def service_env(workdir: Path, database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("VOKE_")}
    env.update(
        {
            "VOKE_ENV": "development",
            "VOKE_VAR_DIR": str(workdir / "var"),
            "DATABASE_URL": database_url,
            "JWT_SECRET": "bench-jwt-secret-" + "j" * 40,
            "VOKE_ENCRYPTION_KEY": "bench-encryption-key-" + "k" * 40,
            "VOKE_ESM_RATE_LIMIT": "1000000/second",
            "RATE_LIMIT_STORAGE_URL": "memory://",
            "VOKE_ADMIN_EMAIL": ADMIN_EMAIL,
            "VOKE_ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
    )
    for name in ("AMQP_URL", "TRADING_SYNC_INTERVAL_S", "TELEMETRY_INTERVAL_S"):
        env.pop(name, None)  # no background work beside the load
    return env


def start_service(name: str, workdir: Path, database_url: str) -> Server:
    port = free_port()
    argv = [str(VOKE), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return start(name, argv, service_env(workdir, database_url), port, workdir)


# Setup through the API, then seeding with SQL ---------------------------------------------------


@dataclass
class Bench:
    org_id: str
    client_id: str
    client_secret: str
    default_plant: str
    admin_token: str
    plants: list[str] = field(default_factory=list)  # the client's externalPlantIds


def sign_in_and_enable(server: Server) -> Bench:
    with httpx.Client(base_url=server.base, timeout=30) as http:
        login = http.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        org = http.post("/api/v1/orgs", json={"name": "Bench"}, headers=auth)
        org.raise_for_status()
        enabled = http.post(f"{ADMIN}/enable", params={"orgId": org.json()["id"]}, headers=auth)
        enabled.raise_for_status()
        credentials = enabled.json()
        plants = http.get(
            f"{ADMIN}/plants", params={"clientId": credentials["clientId"]}, headers=auth
        )
        plants.raise_for_status()
        return Bench(
            org_id=org.json()["id"],
            client_id=credentials["clientId"],
            client_secret=credentials["clientSecret"],
            default_plant=plants.json()[0]["externalPlantId"],
            admin_token=login.json()["accessToken"],
        )


def sqlite_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLAlchemy stores DateTime on SQLite


def seed_sqlite(path: Path, bench: Bench, small_copy: Path) -> float:
    """Clone the default plant with SQL: the client's 100, then 99,900 of 999 other orgs."""
    began = time.perf_counter()
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    template = dict(db.execute("SELECT * FROM voke_esm_plants").fetchone())
    org_template = dict(db.execute("SELECT * FROM orgs").fetchone())
    columns = list(template)
    insert = (
        f"INSERT INTO voke_esm_plants ({', '.join(columns)})"
        f" VALUES ({', '.join('?' for _ in columns)})"
    )
    clock = datetime.now(UTC)

    def plant(org_id: str, client_id: str, external_id: str) -> tuple[Any, ...]:
        nonlocal clock
        clock += timedelta(microseconds=10)
        row = {
            **template,
            "id": uuid.uuid4().hex,
            "org_id": org_id,
            "client_id": client_id,
            "external_plant_id": external_id,
            "name": f"Site {external_id}",
            "created_at": sqlite_time(clock),
            "updated_at": sqlite_time(clock),
        }
        return tuple(row[column] for column in columns)

    ours = [f"BENCH-{n:04d}" for n in range(1, CLIENT_PLANTS)]
    with db:
        db.executemany(
            insert, [plant(template["org_id"], bench.client_id, external) for external in ours]
        )
    bench.plants = [bench.default_plant, *ours]
    db.execute(f"VACUUM INTO '{small_copy}'")

    org_columns = list(org_template)
    org_insert = (
        f"INSERT INTO orgs ({', '.join(org_columns)})"
        f" VALUES ({', '.join('?' for _ in org_columns)})"
    )
    with db:
        for number in range(1, OTHER_ORGS + 1):
            org_id = uuid.uuid4().hex
            name = f"Other {number}"
            org = {
                **org_template,
                "id": org_id,
                "name": name,
                "name_key": name_key(name),
                "slug": f"o-{number}",
            }
            db.execute(org_insert, tuple(org[column] for column in org_columns))
            client = f"vesm-other-{number:04d}"
            db.executemany(
                insert,
                [plant(org_id, client, f"P-{i:03d}") for i in range(PLANTS_PER_OTHER_ORG)],
            )
    total = db.execute("SELECT count(*) FROM voke_esm_plants").fetchone()[0]
    db.close()
    assert total == CLIENT_PLANTS + OTHER_ORGS * PLANTS_PER_OTHER_ORG, total
    return time.perf_counter() - began


def sqlite_version_sum(path: Path, client_id: str) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        query = "SELECT sum(config_version) FROM voke_esm_plants WHERE client_id = ?"
        return int(db.execute(query, (client_id,)).fetchone()[0])
    finally:
        db.close()


# wrk ----------------------------------------------------------------------------------------------


@dataclass
class Endpoint:
    name: str
    method: str
    path: str
    auth: str = ""
    body: str = ""
    update_plants: str = ""
    duration_factor: float = 1.0


@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    applied: int | None = None
    cpu_ms: float = 0.0  # the server process's CPU time per completed request

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def applied_per_s(self) -> float | None:
        return None if self.applied is None else self.applied / self.seconds


def wrk_command(
    base: str, endpoint: Endpoint, connections: int, seconds: float
) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "BENCH_METHOD": endpoint.method,
        "BENCH_BODY": endpoint.body,
        "BENCH_AUTH": endpoint.auth,
        "BENCH_UPDATE_PLANTS": endpoint.update_plants,
        "BENCH_RUN": uuid.uuid4().hex[:12],  # codes never repeat across runs
    }
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "30s", "-s", str(LUA), base + endpoint.path,
    ]  # fmt: skip
    return pinned(command, LOAD_CPU), env


def wrk(base: str, endpoint: Endpoint, connections: int, seconds: float) -> Run:
    command, env = wrk_command(base, endpoint, connections, seconds)
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 90,
        check=True,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    socket_errors = sum(data[f"errors_{kind}"] for kind in ("connect", "read", "write", "timeout"))
    return Run(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=socket_errors,
        non_2xx=data["errors_status"],
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def settle(server: Server) -> None:
    """Wait until the server has worked off what wrk left in flight when it stopped.

    At 32 connections on a slow endpoint, requests wrk abandons at the end still run; the next
    measurement must not share the CPU with them.
    """
    deadline = time.monotonic() + 120
    previous = cpu_seconds(server.process.pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_seconds(server.process.pid)
        if now - previous < 0.02:
            return
        previous = now


@dataclass
class Cell:
    """One server's figures for one endpoint at one connection count: the medians of its rounds."""

    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    non_2xx: int
    errors: int
    applied_per_s: float | None = None

    @classmethod
    def of(cls, runs: list[Run]) -> Cell:
        applied = [run.applied_per_s for run in runs if run.applied_per_s is not None]
        return cls(
            rps=statistics.median(run.rps for run in runs),
            p50_ms=statistics.median(run.p50_ms for run in runs),
            p99_ms=statistics.median(run.p99_ms for run in runs),
            cpu_ms=statistics.median(run.cpu_ms for run in runs),
            non_2xx=sum(run.non_2xx for run in runs),
            errors=sum(run.errors for run in runs),
            applied_per_s=statistics.median(applied) if applied else None,
        )


def run_once(
    server: Server,
    endpoint: Endpoint,
    connections: int,
    seconds: float,
    applied: Callable[[], int] | None = None,
) -> Run:
    before = applied() if applied else 0
    cpu_before = cpu_seconds(server.process.pid)
    run = wrk(server.base, endpoint, connections, seconds)
    run.cpu_ms = (cpu_seconds(server.process.pid) - cpu_before) * 1000 / max(run.requests, 1)
    if applied:  # committed within the run, not the requests wrk left in flight at its end
        run.applied = applied() - before
    settle(server)
    return run


def measure(
    servers: list[Server],
    endpoint: Endpoint,
    seconds: float,
    rounds: int,
    applied: dict[str, Callable[[], int]] | None = None,
) -> dict[str, dict[int, Cell]]:
    """`endpoint` at 1 and 32 connections on every server. Each of the two is a cell whose servers
    run back to back, `rounds` times over: a drift of the machine meets them all alike."""
    applied = applied or {}
    warm_up_connections = 1 if endpoint.duration_factor > 1 else 4
    for server in servers:  # code paths, connection pools, caches
        wrk(server.base, endpoint, warm_up_connections, 1)
        settle(server)
    results: dict[str, dict[int, Cell]] = {server.name: {} for server in servers}
    for connections in (1, 32):
        runs: dict[str, list[Run]] = {server.name: [] for server in servers}
        for _ in range(rounds):
            for server in servers:
                runs[server.name].append(
                    run_once(
                        server,
                        endpoint,
                        connections,
                        seconds * endpoint.duration_factor,
                        applied.get(server.name),
                    )
                )
        for server in servers:
            cell = results[server.name][connections] = Cell.of(runs[server.name])
            note = f", {cell.applied_per_s:.0f} applied/s" if cell.applied_per_s else ""
            print(
                f"    {endpoint.name:<14} c{connections:<3} {server.name:<20}"
                f" {cell.rps:8.0f} req/s  p50 {cell.p50_ms:7.2f} ms  p99 {cell.p99_ms:7.2f} ms"
                f"  CPU {cell.cpu_ms:6.2f} ms/req  non-2xx {cell.non_2xx}"
                f"  socket errors {cell.errors}{note}"
            )
    return results


def under_admin_load(
    server: Server, reads: list[Endpoint], admin: Endpoint, seconds: float, rounds: int
) -> dict[str, dict[str, float]]:
    """Each trading read at one connection, alone and while another connection requests the
    admin list in a loop, alternately `rounds` times: the median p50 and p99 of each."""
    figures: dict[str, dict[str, float]] = {}
    for read in reads:
        alone: list[Run] = []
        loaded: list[Run] = []
        for _ in range(rounds):
            alone.append(wrk(server.base, read, 1, seconds))
            settle(server)
            command, env = wrk_command(server.base, admin, 1, seconds + 2)
            background = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                time.sleep(1)  # the admin loop is under way before the reads start
                loaded.append(wrk(server.base, read, 1, seconds))
            finally:
                background.wait(timeout=seconds + 90)
            settle(server)
        figures[read.name] = {
            "alone_p50": statistics.median(run.p50_ms for run in alone),
            "alone_p99": statistics.median(run.p99_ms for run in alone),
            "loaded_p50": statistics.median(run.p50_ms for run in loaded),
            "loaded_p99": statistics.median(run.p99_ms for run in loaded),
        }
        f = figures[read.name]
        print(
            f"    {read.name:<14} p99 alone {f['alone_p99']:.2f} ms,"
            f" beside the admin list {f['loaded_p99']:.2f} ms"
        )
    return figures


def compare_sizes(
    servers: dict[str, Server], endpoint: Endpoint, rounds: int = 3, seconds: float = 2
) -> dict[str, dict[str, float]]:
    """One connection on each server in turn, `rounds` times: medians of p50 and CPU/request.

    Two near-identical figures measured minutes apart on a shared machine differ by more than
    the ±20 % under test; taken in alternation, both see the same neighbours.
    """
    runs: dict[str, list[Run]] = {label: [] for label in servers}
    for _ in range(rounds):
        for label, server in servers.items():
            before = cpu_seconds(server.process.pid)
            run = wrk(server.base, endpoint, 1, seconds)
            run.cpu_ms = (cpu_seconds(server.process.pid) - before) * 1000 / max(run.requests, 1)
            settle(server)
            runs[label].append(run)
    return {
        label: {
            "p50_ms": statistics.median(run.p50_ms for run in taken),
            "cpu_ms": statistics.median(run.cpu_ms for run in taken),
            "rps": statistics.median(run.rps for run in taken),
        }
        for label, taken in runs.items()
    }


def endpoints(bench: Bench, token: str, plant: str) -> list[Endpoint]:
    bearer = f"Bearer {token}"
    return [
        Endpoint("plant/list", "GET", f"{TRADING}/plant/list", auth=bearer),
        Endpoint("plant/config", "GET", f"{TRADING}/plant/config?plantId={plant}", auth=bearer),
        Endpoint(
            "config/update",
            "POST",
            f"{TRADING}/plant/config/update",
            auth=bearer,
            update_plants=",".join(bench.plants),
        ),
        Endpoint(
            "token",
            "POST",
            f"{TRADING}/token",
            body=json.dumps({"clientId": bench.client_id, "clientSecret": bench.client_secret}),
        ),
        Endpoint(
            "admin list 10k",
            "GET",
            f"{ADMIN}/plants?limit={ADMIN_LIST_SIZE}",
            auth=f"Bearer {bench.admin_token}",
            duration_factor=2,
        ),
    ]


def trading_token(base: str, bench: Bench) -> str:
    answer = httpx.post(
        f"{base}{TRADING}/token",
        json={"clientId": bench.client_id, "clientSecret": bench.client_secret},
    )
    answer.raise_for_status()
    return str(answer.json()["accessToken"])


def capture_responses(base: str, bench: Bench, token: str, plant: str, path: Path) -> None:
    """The service's own answers, for the baselines to serve."""
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=60) as http:
        update = http.post(
            f"{TRADING}/plant/config/update",
            headers=bearer,
            json={
                "plantId": plant,
                "configUpdateReqCode": "bench-capture",
                "validateOnly": False,
                "timeConfigs": [
                    {
                        "from": "00:00",
                        "to": "23:59",
                        "pBatMax": 5,
                        "pBatMin": -5,
                        "socMax": 90,
                        "socMin": 10,
                    }
                ],
            },
        )
        answers = {
            "token": http.post(
                f"{TRADING}/token",
                json={"clientId": bench.client_id, "clientSecret": bench.client_secret},
            ),
            "plant_list": http.get(f"{TRADING}/plant/list", headers=bearer),
            "plant_config": http.get(
                f"{TRADING}/plant/config", params={"plantId": plant}, headers=bearer
            ),
            "config_update": update,
            "admin_plants": http.get(
                f"{ADMIN}/plants",
                params={"limit": ADMIN_LIST_SIZE},
                headers={"Authorization": f"Bearer {bench.admin_token}"},
            ),
        }
    for answer in answers.values():
        answer.raise_for_status()
    assert len(answers["admin_plants"].json()) == ADMIN_LIST_SIZE
    assert len(answers["plant_list"].json()) == CLIENT_PLANTS
    path.write_text(json.dumps({name: answer.text for name, answer in answers.items()}))


# PostgreSQL ---------------------------------------------------------------------------------------


async def pg(sql: str, *args: Any, database: str = "postgres", fetch: bool = False) -> Any:
    import asyncpg

    connection = await asyncpg.connect(**{**PG_ADMIN, "database": database})
    try:
        if fetch:
            return await connection.fetchval(sql, *args)
        return await connection.execute(sql, *args)
    finally:
        await connection.close()


def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_ADMIN["host"], PG_ADMIN["port"]), timeout=1):
            return True
    except OSError:
        return False


def run_postgres(workdir: Path, seconds: float, rounds: int, results: dict[str, Any]) -> None:
    name = f"voke_esm_bench_{os.getpid()}"
    asyncio.run(pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(pg(f'CREATE DATABASE "{name}"'))
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        server = start_service("service-postgres", workdir, url)
        with running([server]):
            bench = sign_in_and_enable(server)
            ours = [f"BENCH-{n:04d}" for n in range(1, CLIENT_PLANTS)]
            asyncio.run(
                pg(
                    """
                    INSERT INTO voke_esm_plants (
                        org_id, client_id, external_plant_id, name, description,
                        fve_peak_power_kwp, capacity_kwh, config_enabled, plant_with_load,
                        esi_state, time_configs, config_version, id, created_at, updated_at
                    )
                    SELECT org_id, client_id, x.external_id, 'Site ' || x.external_id,
                           description, fve_peak_power_kwp, capacity_kwh, config_enabled,
                           plant_with_load, esi_state, time_configs, config_version,
                           gen_random_uuid(), created_at + x.n * interval '1 microsecond',
                           updated_at
                    FROM voke_esm_plants,
                         unnest($1::text[]) WITH ORDINALITY AS x(external_id, n)
                    """,
                    ours,
                    database=name,
                )
            )
            bench.plants = [bench.default_plant, *ours]

            def applied() -> int:
                query = "SELECT sum(config_version) FROM voke_esm_plants WHERE client_id = $1"
                return int(asyncio.run(pg(query, bench.client_id, database=name, fetch=True)))

            token = trading_token(server.base, bench)
            chosen = endpoints(bench, token, bench.plants[CLIENT_PLANTS // 2])
            for endpoint in chosen[:3]:
                results[endpoint.name] = measure(
                    [server], endpoint, seconds, rounds, {server.name: applied}
                )[server.name]
            results["server_version"] = asyncio.run(
                pg("SHOW server_version", database=name, fetch=True)
            )
        results["service"] = server
    finally:
        asyncio.run(pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Report -------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    wrk_version = subprocess.run(
        ["wrk", "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[0]
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    packages = ["fastapi", "starlette", "pydantic", "sqlalchemy", "aiosqlite", "asyncpg"]
    packages += ["uvicorn", "uvloop", "httptools", "limits"]
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{memory_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version.split(" [")[0],
        "commit": commit + (" (src/ has uncommitted changes)" if dirty else ""),
        "packages": ", ".join(f"{name} {version(name)}" for name in packages),
    }


def ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def verdict(met: bool, detail: str) -> str:
    return f"**met** ({detail})" if met else f"**missed** ({detail})"


def render(results: dict[str, Any], meta: dict[str, Any]) -> str:
    service, starlette, fastapi = (results["apps"][k] for k in ("service", "starlette", "fastapi"))
    out: list[str] = []
    add = out.append
    add(f"Run of {meta['when']} ({meta['elapsed']:.0f} s in all), {meta['duration']:g} s per wrk")
    add("run (10,000-plant admin list: twice that), after a 1 s warm-up at 4 connections. Each")
    add(f"cell (an endpoint at a connection count) is the median of {meta['rounds']} rounds in")
    add("which the servers ran back to back, so that the machine's drift meets them all alike.")
    if meta["pinned"]:
        add("Every server ran pinned to CPU 0 (`taskset -c 0`) and wrk to CPU 1.")
    else:
        add("**Unpinned** (no taskset or one core): these figures drift by half between runs.")
    add(f"Load average before / after the run: {meta['load_before']} / {meta['load_after']}.\n")
    add("### Throughput and latency (SQLite, 100,000 plants, 100 of them the client's)\n")
    add("| endpoint | conns | service req/s | p50 ms | p99 ms | bare Starlette req/s | p50 | p99 |")
    out[-1] += " FastAPI+pydantic req/s | p50 | p99 | ÷ Starlette | ÷ FastAPI | non-2xx |"
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in results["endpoint_names"]:
        for connections in (1, 32):
            s = service[name][connections]
            b = starlette[name][connections]
            f = fastapi[name][connections]
            add(
                f"| {name} | {connections} | {s.rps:.0f} | {ms(s.p50_ms)} | {ms(s.p99_ms)}"
                f" | {b.rps:.0f} | {ms(b.p50_ms)} | {ms(b.p99_ms)}"
                f" | {f.rps:.0f} | {ms(f.p50_ms)} | {ms(f.p99_ms)}"
                f" | {ratio(s.rps, b.rps)} | {ratio(s.rps, f.rps)} | {s.non_2xx + s.errors} |"
            )
    add("\n`÷ Starlette`, `÷ FastAPI`: the service's requests/s as a fraction of the baseline's.")
    add("`non-2xx`: answers of the service that were not 2xx, plus socket errors and timeouts.\n")

    add("### CPU time per request (server process, user + system)\n")
    add("On a shared machine requests/s move with the neighbours' load; the CPU a request costs")
    add("the server process moves much less, so these ratios are the steadier comparison.\n")
    add("| endpoint | conns | service ms | bare Starlette ms | FastAPI+pydantic ms |")
    out[-1] += " service ÷ Starlette | service ÷ FastAPI |"
    add("|---|---:|---:|---:|---:|---:|---:|")
    for name in results["endpoint_names"]:
        for connections in (1, 32):
            s = service[name][connections]
            b = starlette[name][connections]
            f = fastapi[name][connections]
            add(
                f"| {name} | {connections} | {ms(s.cpu_ms)} | {ms(b.cpu_ms)} | {ms(f.cpu_ms)}"
                f" | {ratio(s.cpu_ms, b.cpu_ms)} | {ratio(s.cpu_ms, f.cpu_ms)} |"
            )
    add("")

    update = service["config/update"]
    add("### config/update: applied updates (each a new version in the database)\n")
    add("| database | conns | requests/s | applied/s | p50 ms | p99 ms | CPU ms/req |")
    add("|---|---:|---:|---:|---:|---:|---:|")
    rows = [("SQLite", update)]
    pg_results = results.get("postgres") or {}
    if "config/update" in pg_results:
        rows.append(("PostgreSQL " + pg_results["server_version"], pg_results["config/update"]))
    for label, runs in rows:
        for connections in (1, 32):
            run = runs[connections]
            add(
                f"| {label} | {connections} | {run.rps:.0f} | {run.applied_per_s:.0f}"
                f" | {ms(run.p50_ms)} | {ms(run.p99_ms)} | {ms(run.cpu_ms)} |"
            )
    if pg_results:
        add("\nPostgreSQL, the other trading endpoints (same 100 client plants, no others):\n")
        add("| endpoint | conns | req/s | p50 ms | p99 ms | CPU ms/req |")
        add("|---|---:|---:|---:|---:|---:|")
        for name in ("plant/list", "plant/config"):
            for connections in (1, 32):
                run = pg_results[name][connections]
                add(
                    f"| {name} | {connections} | {run.rps:.0f} | {ms(run.p50_ms)}"
                    f" | {ms(run.p99_ms)} | {ms(run.cpu_ms)} |"
                )

    add("\n### Trading reads beside a loop of admin lists of 10,000 plants\n")
    add("One connection reads while another requests the admin list without pause; each figure")
    add(f"the median of {meta['rounds']} alternating runs alone and beside it:\n")
    add("| endpoint | p50 alone ms | p50 beside ms | p99 alone ms | p99 beside ms | p99 ratio |")
    add("|---|---:|---:|---:|---:|---:|")
    for name, f in results["interference"].items():
        add(
            f"| {name} | {ms(f['alone_p50'])} | {ms(f['loaded_p50'])} | {ms(f['alone_p99'])}"
            f" | {ms(f['loaded_p99'])} | {ratio(f['loaded_p99'], f['alone_p99'])} |"
        )

    small = results["small"]
    add("\n### plant/config with 100 vs 100,000 plants in the database\n")
    add("Single runs (as in the first table), then the median of three alternating 1-connection")
    add("runs, which the target is judged on:\n")
    add("| plants | conns | req/s | p50 ms | p99 ms | CPU ms/req |")
    add("|---|---:|---:|---:|---:|---:|")
    for label, runs in (("100", small), ("100,000", service["plant/config"])):
        for connections in (1, 32):
            run = runs[connections]
            add(
                f"| {label} | {connections} | {run.rps:.0f} | {ms(run.p50_ms)}"
                f" | {ms(run.p99_ms)} | {ms(run.cpu_ms)} |"
            )
    for label in ("100", "100,000"):
        median = results["sizes"][label]
        add(
            f"| {label} (median of 3) | 1 | {median['rps']:.0f} | {ms(median['p50_ms'])} | |"
            f" {ms(median['cpu_ms'])} |"
        )

    servers: list[Server] = results["servers"]
    by_name = {server.name: server for server in servers}
    base_s, base_f = by_name["starlette"], by_name["fastapi"]
    add("\n### Start-up and memory\n")
    add("| process | start → /readyz 200 s | idle RSS MiB | peak RSS MiB | ready ÷ Starlette |")
    out[-1] += " idle RSS ÷ Starlette | peak RSS ÷ Starlette |"
    add("|---|---:|---:|---:|---:|---:|---:|")
    for server in servers:
        add(
            f"| {server.name} | {server.ready_s:.2f} | {server.idle_rss_mb:.0f}"
            f" | {server.peak_rss_mb:.0f} | {ratio(server.ready_s, base_s.ready_s)}"
            f" | {ratio(server.idle_rss_mb, base_s.idle_rss_mb)}"
            f" | {ratio(server.peak_rss_mb, base_s.peak_rss_mb)} |"
        )
    add(
        f"\nFastAPI baseline ÷ Starlette baseline: ready {ratio(base_f.ready_s, base_s.ready_s)},"
        f" idle RSS {ratio(base_f.idle_rss_mb, base_s.idle_rss_mb)}."
        " The service's start includes `serve`'s migration check and SuperAdmin check;"
        f" `voke-esm migrate` alone on the fresh file took {meta['migrate_s']:.2f} s."
        f" Seeding 100,000 plants with SQL took {meta['seed_s']:.1f} s."
    )
    add("\nWhere the service's start goes (each the fastest of 3 runs):\n")
    add("| step | seconds |")
    add("|---|---:|")
    for step, seconds in meta["startup"].items():
        add(f"| {step} | {seconds:.2f} |")

    add("\n### Where a trading request's CPU goes (bench/components.py, in-process)\n")
    add("| piece | CPU ms per call |")
    add("|---|---:|")
    for piece, cost in results["components"].items():
        add(f"| {piece} | {ms(cost)} |")

    add("\n### Targets\n")
    add("| target | measured | verdict |")
    add("|---|---|---|")
    for name in ("plant/list", "plant/config"):
        for connections in (1, 32):
            rps = service[name][connections].rps
            for baseline, runs, floor in (
                ("FastAPI + pydantic", fastapi, 1.0),
                ("bare Starlette", starlette, 0.35),
            ):
                share = rps / runs[name][connections].rps
                detail = f"{share / floor:.2f}× the target"
                add(
                    f"| {name} ≥ {floor:.2f}× {baseline}'s req/s, {connections} conn."
                    f" | {share:.2f}× | {verdict(share >= floor, detail)} |"
                )
    for name in ("plant/list", "plant/config"):
        p99 = service[name][1].p99_ms
        add(
            f"| {name} p99 ≤ 1 ms at 1 conn. | {ms(p99)} ms"
            f" | {verdict(p99 <= 1, f'{p99:.1f}× the limit')} |"
        )
    for name, f in results["interference"].items():
        grown = f["loaded_p99"] / f["alone_p99"]
        add(
            f"| {name} p99 beside the admin list ≤ 2× alone (1 conn.) | {grown:.1f}×"
            f" | {verdict(grown <= 2, f'{grown / 2:.1f}× the limit')} |"
        )
    for label, runs, floor in [("SQLite", update, 1000)] + (
        [("PostgreSQL", pg_results["config/update"], 1000)] if pg_results else []
    ):
        best = max(run.applied_per_s or 0 for run in runs.values())
        add(
            f"| config/update ≥ {floor:,} applied/s on {label} | {best:.0f}/s"
            f" | {verdict(best >= floor, f'{best / floor:.2f}× the target')} |"
        )
    sizes = results["sizes"]
    for key, what in (("p50_ms", "p50"), ("cpu_ms", "CPU/request")):
        change = sizes["100,000"][key] / sizes["100"][key] - 1
        same = abs(change) <= 0.2
        add(
            f"| plant/config the same ±20 % with 100 vs 100,000 plants ({what}, 1 conn.,"
            f" median of 3 alternating runs) | {sizes['100'][key]:.2f} → "
            f"{sizes['100,000'][key]:.2f} ms ({change:+.0%})"
            f" | {verdict(same, 'within ±20 %' if same else 'outside ±20 %')} |"
        )
    admin = service["admin list 10k"][1].p50_ms
    add(
        f"| admin list of 10,000 plants < 150 ms (p50, 1 conn.) | {admin:.0f} ms"
        f" | {verdict(admin < 150, f'{admin / 150:.1f}× the limit')} |"
    )
    idle = by_name["service"].idle_rss_mb
    add(
        f"| idle RSS ≤ 100 MB | {idle:.0f} MiB ({idle * 1.048576:.0f} MB)"
        f" | {verdict(idle * 1.048576 <= 100, f'{idle * 1.048576 / 100:.2f}× the limit')} |"
    )
    ready = by_name["service"].ready_s
    add(
        f"| start to ready ≤ 1.5 s | {ready:.2f} s"
        f" | {verdict(ready <= 1.5, f'{ready / 1.5:.1f}× the limit')} |"
    )

    info = meta["machine"]
    add("\n### Machine and versions\n")
    add(f"- {info['nproc']} CPUs ({info['cpu']}), {info['memory']} memory, Linux {info['kernel']}")
    add(f"- Python {info['python']}, SQLite {info['sqlite']}, {info['wrk']}")
    if pg_results:
        add(f"- PostgreSQL {pg_results['server_version']} (the machine's server, a fresh database)")
    add(f"- {info['packages']}")
    add(f"- voke-esm at commit {info['commit']}")
    add("\n### Commands\n")
    add("```sh")
    add(f"{meta['command']}")
    add("# which ran, among others (ports and paths vary):")
    for command in meta["commands"]:
        add(command)
    add("```")
    return "\n".join(out)


def write_doc(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(f"{head}{BEGIN}\n{section}\n{END}{tail}")


def startup_steps(workdir: Path, database_url: str) -> dict[str, float]:
    """The pieces of `voke-esm serve`'s start, each timed alone."""
    env = service_env(workdir, database_url)
    steps = {
        "Python interpreter (`python -c pass`)": [sys.executable, "-c", "pass"],
        "imports (`python -c 'import voke_esm.app'`)": [
            sys.executable,
            "-c",
            "import voke_esm.app",
        ],
        "`voke-esm --help` (the CLI, no app)": [str(VOKE), "--help"],
        "`voke-esm migrate` on an up-to-date database": [str(VOKE), "migrate"],
    }
    timings: dict[str, float] = {}
    for step, command in steps.items():
        runs = []
        for _ in range(3):
            began = time.perf_counter()
            subprocess.run(command, env=env, check=True, capture_output=True)
            runs.append(time.perf_counter() - began)
        timings[step] = min(runs)
    return timings


# Main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3, help="seconds per wrk run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each cell, their median reported"
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL runs")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if not can_pin():
        print("taskset or a second core is missing: the processes run unpinned, figures drift")
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk not found: install it first (Debian/Ubuntu: apt-get install -y wrk;"
            " macOS: brew install wrk)"
        )
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="voke-esm-bench-"))
    big_db, small_db = workdir / "big.db", workdir / "small.db"
    big_url, small_url = (f"sqlite+aiosqlite:///{path}" for path in (big_db, small_db))
    meta: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "duration": args.duration,
        "load_before": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "rounds": args.rounds,
        "pinned": can_pin(),
        "command": " ".join(shlex.quote(part) for part in ["bench/run.py", *sys.argv[1:]]),
        "machine": machine(),
    }
    meta["command"] = ".venv/bin/python " + meta["command"]
    print(f"Work folder {workdir}")
    results: dict[str, Any] = {"apps": {}, "servers": []}
    try:
        print("Setting up")
        migrate_began = time.perf_counter()
        subprocess.run(
            [str(VOKE), "migrate"],
            env=service_env(workdir, big_url),
            check=True,
            capture_output=True,
        )
        meta["migrate_s"] = time.perf_counter() - migrate_began
        setup = start_service("setup", workdir, big_url)
        with running([setup]):
            bench = sign_in_and_enable(setup)
        meta["seed_s"] = seed_sqlite(big_db, bench, small_db)
        print(f"  seeded {CLIENT_PLANTS + OTHER_ORGS * PLANTS_PER_OTHER_ORG} plants")
        meta["startup"] = startup_steps(workdir, big_url)

        service = start_service("service", workdir, big_url)
        servers = [service]
        with running(servers):
            # Side by side with the big one, measured right after it: the same neighbours' load.
            small = start_service("service-100-plants", workdir, small_url)
            servers.append(small)
            token = trading_token(service.base, bench)
            plant = bench.plants[CLIENT_PLANTS // 2]
            responses = workdir / "responses.json"
            capture_responses(service.base, bench, token, plant, responses)
            baseline_env = {**os.environ, "BENCH_RESPONSES": str(responses)}
            for name in ("starlette", "fastapi"):
                port = free_port()
                argv = [sys.executable, str(BENCH / f"baseline_{name}.py"), "--port", str(port)]
                servers.append(start(name, argv, baseline_env, port, workdir))
            chosen = endpoints(bench, token, plant)
            results["endpoint_names"] = [endpoint.name for endpoint in chosen]

            def applied() -> int:
                return sqlite_version_sum(big_db, bench.client_id)

            for endpoint in chosen:
                print(f"  {endpoint.name}")
                members = [s for s in servers if s is not small or endpoint.name == "plant/config"]
                cells = measure(
                    members, endpoint, args.duration, args.rounds, {service.name: applied}
                )
                for name, by_connections in cells.items():
                    results["apps"].setdefault(name, {})[endpoint.name] = by_connections
            print("  trading reads, alone and beside a loop of admin lists of 10,000 plants")
            results["interference"] = under_admin_load(
                service, chosen[:2], chosen[-1], args.duration, args.rounds
            )
            print("  plant/config, 100,000 vs 100 plants, alternating")
            results["sizes"] = compare_sizes(
                {"100,000": service, "100": small}, chosen[1], seconds=max(1, args.duration - 1)
            )
        results["servers"].extend(servers)
        results["small"] = results["apps"].pop(small.name)["plant/config"]

        if args.no_postgres:
            print("PostgreSQL: skipped (--no-postgres)")
        elif not postgres_reachable():
            print("PostgreSQL: not reachable at 127.0.0.1:5432, skipped")
        else:
            print("PostgreSQL")
            results["postgres"] = {}
            run_postgres(workdir, args.duration, args.rounds, results["postgres"])
            results["servers"].append(results["postgres"].pop("service"))
        print("Components (bench/components.py)")
        done = subprocess.run(
            [sys.executable, str(BENCH / "components.py")],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            results["components"] = json.loads(done.stdout.strip().splitlines()[-1])
        else:  # src moved under it: the rest of the run still stands
            print(done.stderr[-2000:])
            results["components"] = {"bench/components.py failed; see its output": float("nan")}
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    meta["elapsed"] = time.perf_counter() - began
    meta["load_after"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    meta["commands"] = [
        "voke-esm migrate                       # DATABASE_URL=sqlite+aiosqlite:///…/big.db",
        "VOKE_ESM_RATE_LIMIT=1000000/second voke-esm serve --host 127.0.0.1 --port P",
        "python bench/baseline_starlette.py --port P   # BENCH_RESPONSES=…/responses.json",
        "python bench/baseline_fastapi.py --port P",
        f"wrk -t1 -c{{1,32}} -d{max(1, round(args.duration))}s --timeout 30s -s bench/wrk.lua "
        "http://127.0.0.1:P/api/v1/voke-esm/trading/plant/list",
        "python bench/components.py",
    ]
    section = render(results, meta)
    write_doc(section)
    print()
    print(section)
    print(f"\nWritten to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
