"""`voke-esm smoke` (CONTRACT §9) run as a user runs it: the console command in a subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import AMQP_URL, make_settings, run_in_thread
from tests.factories import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.robustness.servers import create_super_admin, free_port, threaded_service
from voke_esm.app import create_app
from voke_esm.migrations import upgrade_to_head

VOKE_ESM = Path(sys.executable).with_name("voke-esm")
STEP = re.compile(r"  ([✓✗]) +(\d+)\. (.+)")


def smoke(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VOKE_ESM), "smoke", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
        check=False,
    )


@contextmanager
def a_service(folder: Path, *, esm_port: int | None = None) -> Iterator[str]:
    """A service on a loopback port with a database that outlives the smoke run; Voke's ESM
    client reaches the sandbox at `esm_port` (this service's own port unless given)."""
    url = f"sqlite+aiosqlite:///{folder / 'voke-esm.db'}"
    upgrade_to_head(url)
    run_in_thread(lambda: asyncio.run(create_super_admin(url)))
    port = free_port()
    esm_url = f"http://127.0.0.1:{esm_port or port}/api/v1/voke-esm"
    app = create_app(make_settings(folder, url, voke_esm_internal_url=esm_url))
    with threaded_service(app, port) as base_url:
        yield base_url


def orgs_of(base_url: str) -> list[dict[str, object]]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        login = http.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        token = login.json()["accessToken"]
        orgs = http.get("/api/v1/orgs", headers={"Authorization": f"Bearer {token}"})
        assert orgs.status_code == 200, orgs.text
        return list(orgs.json())


def smoke_against(base_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return smoke(
        "--base-url", base_url, "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD, cwd=cwd
    )


class TestSmoke:
    def test_against_a_sandbox_it_starts_itself_every_step_passes(self, tmp_path: Path) -> None:
        run = smoke(cwd=tmp_path)

        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        steps = [STEP.fullmatch(line) for line in run.stdout.splitlines()]
        marks = [(step[1], int(step[2])) for step in steps if step]
        assert len(marks) >= 9, output  # the seed's steps, AMQP aside (§9)
        assert marks == [("✓", number) for number in range(1, len(marks) + 1)], output
        # It started the service itself, so it read the log: the applied-config check really ran.
        applied = [step[3] for step in steps if step and "applied config for" in step[3]]
        assert len(applied) == 1, output
        assert "skipped" not in applied[0], output
        assert not any(line.startswith("  ✗") for line in run.stdout.splitlines()), output
        # The last step deletes the org it made, so that no run leaves one behind (§3).
        last = [step for step in steps if step][-1]
        assert last[3].startswith("delete the organization and everything of it ("), output

    def test_an_unreachable_service_fails_at_the_first_step(
        self, tmp_path: Path, closed_port: int
    ) -> None:
        run = smoke(
            "--base-url",
            f"http://127.0.0.1:{closed_port}",
            "--email",
            "a@b.c",
            "--password",
            "x",
            cwd=tmp_path,
        )

        output = run.stdout + run.stderr
        assert run.returncode != 0, output
        failed = [line for line in run.stdout.splitlines() if line.startswith("  ✗")]
        assert len(failed) == 1, output
        assert STEP.fullmatch(failed[0]) is not None, output
        assert not any(line.startswith("  ✓") for line in run.stdout.splitlines()), output

    @pytest.mark.rabbitmq
    def test_with_amqp_url_it_consumes_the_telemetry_message(self, tmp_path: Path) -> None:
        env = {key: value for key, value in os.environ.items() if key != "AMQP_URL"}
        run = smoke(cwd=tmp_path, env={**env, "AMQP_URL": AMQP_URL})

        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        steps = [STEP.fullmatch(line) for line in run.stdout.splitlines()]
        marks = [(step[1], int(step[2])) for step in steps if step]
        assert marks == [("✓", number) for number in range(1, len(marks) + 1)], output
        titles = [step[3] for step in steps if step]
        # The seed's steps 4-6, after linking the Voke plant and before the config-update path.
        amqp = [
            "start an AMQP consumer for vcp.<org slug>.event.telemetry",
            "trigger a telemetry snapshot of the plant",
            "observe the event.telemetry message arriving",
        ]
        at = next(i for i, title in enumerate(titles) if title.startswith(amqp[0]))
        assert [title.split(" (")[0] for title in titles[at : at + 3]] == amqp, output
        assert titles[at - 1] == "create a Voke plant linked to it", output
        org_slug = re.search(r"create an organization \((.+)\)", run.stdout)
        assert org_slug is not None, output
        assert f"vcp.{org_slug[1]}.event.telemetry: plant PLANT-" in titles[at + 2], output
        assert "AMQP telemetry steps were skipped" not in output

    def test_it_leaves_no_org_behind(self, tmp_path: Path) -> None:
        with a_service(tmp_path) as base_url:
            run = smoke_against(base_url, tmp_path)

            output = run.stdout + run.stderr
            assert run.returncode == 0, output
            assert orgs_of(base_url) == [], output

    def test_a_failed_run_deletes_its_org_all_the_same(
        self, tmp_path: Path, closed_port: int
    ) -> None:
        # Voke's ESM client is pointed at a closed port: the trading sync step fails.
        with a_service(tmp_path, esm_port=closed_port) as base_url:
            run = smoke_against(base_url, tmp_path)

            output = run.stdout + run.stderr
            assert run.returncode != 0, output
            failed = [line for line in run.stdout.splitlines() if line.startswith("  ✗")]
            assert len(failed) == 1, output
            assert "trading sync" in failed[0], output
            assert "  -  deleted the organization this run created (smoke-test-" in output
            assert orgs_of(base_url) == [], output


class TestSmokeLogFile:
    def test_a_missing_log_file_is_one_plain_line_before_any_step(
        self, tmp_path: Path, closed_port: int
    ) -> None:
        run = smoke(
            "--base-url", f"http://127.0.0.1:{closed_port}", "--email", "a@b.c",
            "--password", "x", "--log-file", "service.log", cwd=tmp_path,
        )  # fmt: skip

        output = run.stdout + run.stderr
        assert run.returncode != 0, output
        assert run.stdout == "", output  # no step ran
        assert run.stderr.strip().splitlines() == [
            "voke-esm: the log file service.log does not exist"
        ], output

    def test_a_log_file_without_a_base_url_is_a_usage_error(self, tmp_path: Path) -> None:
        (tmp_path / "service.log").write_text("")
        run = smoke("--log-file", "service.log", cwd=tmp_path)

        output = run.stdout + run.stderr
        assert run.returncode == 2, output
        assert run.stdout == "", output  # nothing started, no step ran
        (line,) = run.stderr.strip().splitlines()
        assert "--base-url" in line, output

    def test_the_readmes_serve_line_writes_the_log_the_readmes_smoke_line_reads(
        self, tmp_path: Path
    ) -> None:
        """README: `voke-esm serve --log-file service.log`, then `voke-esm smoke --base-url …
        --log-file service.log` in the same folder; the applied-config check really runs."""
        port = free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("VOKE_") and key not in {"DATABASE_URL", "AMQP_URL"}
        }
        env.update(VOKE_ADMIN_EMAIL=ADMIN_EMAIL, VOKE_ADMIN_PASSWORD=ADMIN_PASSWORD)
        with (tmp_path / "serve.out").open("wb") as out:
            service = subprocess.Popen(
                [str(VOKE_ESM), "serve", "--port", str(port), "--log-file", "service.log"],
                cwd=tmp_path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                assert service.poll() is None, (tmp_path / "serve.out").read_text()
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "serve.out").read_text()
                time.sleep(0.2)
            run = smoke(
                "--base-url", base_url, "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD,
                "--log-file", "service.log", cwd=tmp_path, env=env,
            )  # fmt: skip
        finally:
            service.terminate()
            service.wait(timeout=15)

        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        (applied,) = [line for line in run.stdout.splitlines() if "applied config for" in line]
        assert applied.startswith("  ✓"), output
        assert "skipped" not in applied, output
        assert str(tmp_path / "service.log") in applied or "service.log" in applied, output
        assert ADMIN_PASSWORD not in (tmp_path / "service.log").read_text()

    def test_its_output_does_not_speak_of_the_seed(self, tmp_path: Path, closed_port: int) -> None:
        run = smoke(
            "--base-url", f"http://127.0.0.1:{closed_port}", "--email", "a@b.c",
            "--password", "x", cwd=tmp_path,
        )  # fmt: skip
        assert "seed" not in (run.stdout + run.stderr).lower()
