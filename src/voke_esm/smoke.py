"""`voke-esm smoke`: the seed's "Full end-to-end smoke test", step by step (CONTRACT §9).

Against a running service (`--base-url`), or against one it starts itself on a free loopback port
with a temporary database. Each step prints a tick or the reason it failed; the first failure
ends the run with a non-zero exit. The last step deletes the organization the run created; a run
that fails before it deletes the organization all the same (best effort), and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage, AbstractQueue

SMOKE_SCHEDULE: list[dict[str, Any]] = [
    {"from": "00:00", "to": "06:00", "pBatMax": 20, "pBatMin": -20, "socMax": 90, "socMin": 25},
    {"from": "06:00", "to": "23:59", "pBatMax": 40, "pBatMin": -40, "socMax": 85, "socMin": 30},
]


TELEMETRY_TIMEOUT_S = 10.0


class StepFailed(Exception):
    pass


class TelemetryConsumer:
    """The seed's "AMQP consumer for vcp.<org>.event.telemetry": an exclusive queue on the `vcp`
    exchange, driven from this synchronous smoke run through an event loop of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._runner = asyncio.Runner()
        self._connection: AbstractConnection | None = None
        self._queue: AbstractQueue | None = None

    def bind(self, routing_key: str) -> str:
        try:
            return self._runner.run(self._bind(routing_key))
        except Exception as exc:
            raise StepFailed(f"cannot consume from AMQP_URL ({self._where()}): {exc!r}") from None

    def receive(self, timeout_s: float) -> AbstractIncomingMessage | None:
        return self._runner.run(self._receive(timeout_s))

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._runner.run(self._connection.close())
        self._runner.close()

    async def _bind(self, routing_key: str) -> str:
        self._connection = await aio_pika.connect(self.url, timeout=5)
        channel = await self._connection.channel()
        # Declared exactly as the service declares it, so whichever comes first makes it.
        exchange = await channel.declare_exchange("vcp", aio_pika.ExchangeType.TOPIC, durable=True)
        self._queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await self._queue.bind(exchange, routing_key=routing_key)
        return self._queue.name

    async def _receive(self, timeout_s: float) -> AbstractIncomingMessage | None:
        assert self._queue is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = await self._queue.get(no_ack=True, fail=False)
            if message is not None:
                return message
            await asyncio.sleep(0.1)
        return None

    def _where(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or 5672}"  # never the password


@dataclass
class SmokeRun:
    base_url: str
    email: str
    password: str
    log_file: Path | None
    echo: Callable[[str], None]
    amqp_url: str | None = None
    http: httpx.Client = field(init=False)
    consumer: TelemetryConsumer | None = field(init=False, default=None)
    state: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=30)

    # Steps ---------------------------------------------------------------------------------------

    def run(self) -> bool:
        try:
            return self._run()
        finally:
            if self.consumer is not None:
                self.consumer.close()
            self.clean_up()

    def _run(self) -> bool:
        telemetry: list[tuple[str, Callable[[], str | None]]] = [
            ("start an AMQP consumer for vcp.<org slug>.event.telemetry", self.start_consumer),
            ("trigger a telemetry snapshot of the plant", self.trigger_telemetry),
            ("observe the event.telemetry message arriving", self.telemetry_arrives),
        ]
        steps: list[tuple[str, Callable[[], str | None]]] = [
            ("the service answers", self.service_answers),
            (f"sign in as {self.email}", self.sign_in),
            ("create an organization", self.create_org),
            ("enable Voke ESM for it (fresh OAuth2 client credentials)", self.enable),
            ("note the default fake plant's externalPlantId", self.default_plant),
            ("create a Voke plant linked to it", self.link_voke_plant),
            *(telemetry if self.amqp_url else []),
            ("trading sync stores the plant's time configs", self.sync),
            ("push a schedule change (config/update)", self.push),
            ("the trading config shows it applied", self.confirm),
            ("the service logged 'Voke ESM: applied config for <plantId>'", self.log_line),
            ("delete the organization and everything of it", self.delete_org),
        ]
        for number, (title, step) in enumerate(steps, start=1):
            try:
                note = step()
            except StepFailed as exc:
                self.echo(f"  ✗ {number:>2}. {title}: {exc}")
                return False
            except httpx.HTTPError as exc:
                self.echo(f"  ✗ {number:>2}. {title}: {type(exc).__name__}: {exc}")
                return False
            self.echo(f"  ✓ {number:>2}. {title}" + (f" ({note})" if note else ""))
        if not self.amqp_url:
            self.echo("  -  the AMQP telemetry steps were skipped: AMQP_URL is not set")
        return True

    def service_answers(self) -> str:
        self.expect(self.http.get("/healthz"), 200)
        return self.base_url

    def sign_in(self) -> None:
        body = self.expect(
            self.http.post(
                "/api/v1/auth/login", json={"email": self.email, "password": self.password}
            ),
            200,
        )
        self.http.headers["Authorization"] = f"Bearer {body['accessToken']}"

    def create_org(self) -> str:
        # Org names are unique (§3): a random tail keeps two runs in one second apart.
        name = f"Smoke test {datetime.now(UTC):%Y-%m-%d %H:%M:%S} {secrets.token_hex(2)}"
        self.state["org"] = self.expect(self.http.post("/api/v1/orgs", json={"name": name}), 201)
        return str(self.state["org"]["slug"])

    def enable(self) -> str:
        credentials = self.expect(
            self.http.post("/api/v1/voke-esm/admin/enable", params={"orgId": self.org_id}), 200
        )
        self.state["credentials"] = credentials
        return f"clientId {credentials['clientId']}"

    def default_plant(self) -> str:
        plants = self.expect(
            self.http.get(
                "/api/v1/voke-esm/admin/plants",
                params={"clientId": self.state["credentials"]["clientId"]},
            ),
            200,
        )
        if len(plants) != 1:
            raise StepFailed(f"expected the one default plant, found {len(plants)}")
        self.state["sandbox_plant"] = plants[0]
        return str(plants[0]["externalPlantId"])

    def link_voke_plant(self) -> None:
        self.state["voke_plant"] = self.expect(
            self.http.post(
                f"/api/v1/orgs/{self.org_id}/plants",
                json={"name": "Smoke test site", "externalPlantId": self.plant_id},
            ),
            201,
        )

    def start_consumer(self) -> str:
        assert self.amqp_url is not None
        self.consumer = TelemetryConsumer(self.amqp_url)
        key = f"vcp.{self.state['org']['slug']}.event.telemetry"
        queue = self.consumer.bind(key)
        self.state["routing_key"] = key
        return f"exchange vcp, routing key {key}, queue {queue}"

    def trigger_telemetry(self) -> str:
        plant_id = self.state["sandbox_plant"]["id"]
        snapshot = self.expect(
            self.http.post(f"/api/v1/voke-esm/admin/plants/{plant_id}/telemetry"), 200
        )
        if not snapshot["published"]:
            raise StepFailed(f"the service did not publish it: {snapshot['reason']}")
        self.state["snapshot"] = snapshot
        return f"soc {snapshot['soc']} %, pBat {snapshot['pBat']} kW at {snapshot['timestamp']}"

    def telemetry_arrives(self) -> str:
        assert self.consumer is not None
        message = self.consumer.receive(TELEMETRY_TIMEOUT_S)
        if message is None:
            raise StepFailed(f"no message within {TELEMETRY_TIMEOUT_S:.0f} s")
        if message.routing_key != self.state["routing_key"]:
            raise StepFailed(f"it came with routing key {message.routing_key}")
        try:
            body = json.loads(message.body)
        except ValueError:
            raise StepFailed("its body is not JSON") from None
        snapshot = self.state["snapshot"]
        if body.get("id") != snapshot["id"] or body.get("timestamp") != snapshot["timestamp"]:
            raise StepFailed(f"it is not the snapshot just taken: {body}")
        return f"{message.routing_key}: plant {body['externalPlantId']}, soc {body['soc']} %"

    def sync(self) -> str:
        report = self.expect(self.http.post(f"/api/v1/orgs/{self.org_id}/trading/sync"), 200)
        if report["configsStored"] != 1 or report["errors"]:
            raise StepFailed(f"expected one config stored and no errors, got {report}")
        plant = self.voke_plant()
        if plant["timeConfigs"] != self.state["sandbox_plant"]["timeConfigs"]:
            raise StepFailed("the Voke plant's timeConfigs differ from the sandbox plant's")
        return f"version {plant['configVersion']}"

    def push(self) -> str:
        answer = self.expect(
            self.http.put(
                f"/api/v1/orgs/{self.org_id}/plants/{self.state['voke_plant']['id']}/time-configs",
                json={"timeConfigs": SMOKE_SCHEDULE, "validateOnly": False},
            ),
            200,
        )
        if answer["resultCode"] != "applied_ok":
            raise StepFailed(f"resultCode {answer['resultCode']}, errors {answer['errors']}")
        self.state["pushed_version"] = answer["version"]
        return f"applied_ok, version {answer['version']}"

    def confirm(self) -> str:
        credentials = self.state["credentials"]
        token = self.expect(
            self.http.post(
                "/api/v1/voke-esm/trading/token",
                json={
                    "clientId": credentials["clientId"],
                    "clientSecret": credentials["clientSecret"],
                },
            ),
            200,
        )["accessToken"]
        config = self.expect(
            self.http.get(
                "/api/v1/voke-esm/trading/plant/config",
                params={"plantId": self.plant_id},
                headers={"Authorization": f"Bearer {token}"},
            ),
            200,
        )
        if (
            config["version"] != self.state["pushed_version"]
            or config["timeConfigs"] != SMOKE_SCHEDULE
        ):
            raise StepFailed(f"the sandbox holds version {config['version']} with other blocks")
        return f"version {config['version']}"

    def log_line(self) -> str:
        if self.log_file is None:
            return "skipped: no --log-file given for a service this run did not start"
        wanted = f"Voke ESM: applied config for {self.plant_id}"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.log_file.exists() and wanted in self.log_file.read_text(errors="replace"):
                return str(self.log_file)
            time.sleep(0.2)
        raise StepFailed(f"{wanted!r} not found in {self.log_file}")

    def delete_org(self) -> str:
        self.expect(self.http.delete(f"/api/v1/orgs/{self.org_id}"), 200)
        self.state["org_deleted"] = True
        self.expect(self.http.get(f"/api/v1/orgs/{self.org_id}"), 404)
        credentials = self.state["credentials"]
        self.expect(
            self.http.post(
                "/api/v1/voke-esm/trading/token",
                json={
                    "clientId": credentials["clientId"],
                    "clientSecret": credentials["clientSecret"],
                },
            ),
            401,
        )
        return f"{self.state['org']['slug']} is gone, its credentials refused"

    def clean_up(self) -> None:
        """After a failed run, delete the org it created, if any, so that none is left behind."""
        if "org" not in self.state or self.state.get("org_deleted"):
            return
        try:
            self.expect(self.http.delete(f"/api/v1/orgs/{self.org_id}"), 200)
        except (StepFailed, httpx.HTTPError) as exc:
            self.echo(f"  -  the organization this run created was not deleted: {exc}")
            return
        self.state["org_deleted"] = True
        self.echo(f"  -  deleted the organization this run created ({self.state['org']['slug']})")

    # Helpers -------------------------------------------------------------------------------------

    @property
    def org_id(self) -> str:
        return str(self.state["org"]["id"])

    @property
    def plant_id(self) -> str:
        return str(self.state["sandbox_plant"]["externalPlantId"])

    def voke_plant(self) -> dict[str, Any]:
        plant_id = self.state["voke_plant"]["id"]
        return dict(
            self.expect(self.http.get(f"/api/v1/orgs/{self.org_id}/plants/{plant_id}"), 200)
        )

    @staticmethod
    def expect(response: httpx.Response, status: int) -> Any:
        if response.status_code != status:
            try:
                detail = response.json().get("message", response.text)
            except ValueError:
                detail = response.text[:200]
            raise StepFailed(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code}: {detail}"
            )
        return response.json()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def own_service(echo: Callable[[str], None]) -> Iterator[tuple[str, str, str, Path]]:
    """A sandbox of our own: a free loopback port, a temporary folder and database."""
    with tempfile.TemporaryDirectory(prefix="voke-esm-smoke-") as folder:
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        email, password = "smoke@voke-esm.local", secrets.token_urlsafe(16)
        env = {
            key: value
            for key, value in os.environ.items()
            if key
            not in {"DATABASE_URL", "RATE_LIMIT_STORAGE_URL", "JWT_SECRET", "VOKE_ENCRYPTION_KEY"}
        }
        env.update(
            VOKE_ENV="development",
            VOKE_VAR_DIR=str(Path(folder) / "var"),
            VOKE_ESM_ENABLED="true",
            VOKE_ADMIN_EMAIL=email,
            VOKE_ADMIN_PASSWORD=password,
            VOKE_ESM_INTERNAL_URL=f"{base_url}/api/v1/voke-esm",
        )
        log_file = Path(folder) / "service.log"
        echo(f"Starting a sandbox on {base_url} (temporary database, log {log_file})")
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "voke_esm", "serve", "--port", str(port)],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_until_up(base_url, process, log_file)
                yield base_url, email, password, log_file
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_file.read_text(errors="replace")[-2000:]
            raise StepFailed(f"the service exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise StepFailed(f"the service did not answer on {base_url} within 30 s")


def run(
    *,
    base_url: str | None,
    email: str | None,
    password: str | None,
    log_file: Path | None,
    echo: Callable[[str], None],
) -> bool:
    # The seed's AMQP steps run where AMQP_URL is set; a sandbox started here inherits it.
    amqp_url = os.environ.get("AMQP_URL") or None
    if base_url is None:
        try:
            with own_service(echo) as (own_url, own_email, own_password, own_log):
                return SmokeRun(own_url, own_email, own_password, own_log, echo, amqp_url).run()
        except StepFailed as exc:
            echo(f"  ✗ could not start a sandbox: {exc}")
            return False
    if not email or not password:
        echo("  ✗ --email and --password (or VOKE_ADMIN_EMAIL and VOKE_ADMIN_PASSWORD) are needed")
        return False
    echo(f"Running against {base_url}")
    return SmokeRun(base_url, email, password, log_file, echo, amqp_url).run()
