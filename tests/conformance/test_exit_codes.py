"""The exit status of `voke-esm conformance` (CONTRACT §14), each from a real situation: 2 for a
command line that cannot run, 3 for an ESM that cannot be reached or refuses the credentials, 4
when no check runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner, Result

from tests.conformance.conftest import json_report, options_for, run_conformance
from tests.factories import EnabledOrg
from voke_esm.cli import app as cli
from voke_esm.conformance.runner import ExitCode

SECRET = {"VOKE_ESM_CLIENT_SECRET": "s3cret-of-the-test"}


def conformance(*args: str, env: dict[str, str] | None = None) -> Result:
    base = ["conformance", "--client-id", "vesm-test", "--rate-limit", "10000/minute"]
    return CliRunner().invoke(cli, [*base, *args], env=env if env is not None else SECRET)


class TestUsage:
    def test_without_the_secret_in_the_environment(self, closed_port: int) -> None:
        url = f"http://127.0.0.1:{closed_port}/api/v1/voke-esm"
        result = conformance("--base-url", url, env={"VOKE_ESM_CLIENT_SECRET": ""})

        assert result.exit_code == ExitCode.USAGE
        assert "VOKE_ESM_CLIENT_SECRET" in result.output

    def test_the_secret_is_no_option(self) -> None:
        result = conformance("--base-url", "http://127.0.0.1:1", "--client-secret", "x")

        assert result.exit_code == ExitCode.USAGE

    def test_writes_without_a_plant(self) -> None:
        result = conformance("--base-url", "http://127.0.0.1:1", "--allow-writes")

        assert result.exit_code == ExitCode.USAGE
        assert "--allow-writes needs --plant-id" in result.output

    def test_a_rate_limit_that_is_none(self) -> None:
        result = conformance("--base-url", "http://127.0.0.1:1", "--rate-limit", "often")

        assert result.exit_code == ExitCode.USAGE
        assert "'often' is not a rate limit" in result.output

    def test_a_report_dir_that_cannot_be_one(self, tmp_path: Path) -> None:
        taken = tmp_path / "a-file"
        taken.write_text("")

        result = conformance("--base-url", "http://127.0.0.1:1", "--report-dir", str(taken))

        assert result.exit_code == ExitCode.USAGE
        assert f"--report-dir {taken}: File exists" in result.output

    def test_a_report_dir_with_an_earlier_run_is_not_overwritten(self, tmp_path: Path) -> None:
        earlier = tmp_path / "conformance.junit.xml"
        earlier.write_text("<testsuite/>")

        result = conformance("--base-url", "http://127.0.0.1:1", "--report-dir", str(tmp_path))

        assert result.exit_code == ExitCode.USAGE
        assert "already holds conformance.junit.xml of an earlier run" in result.output
        assert earlier.read_text() == "<testsuite/>"

    def test_overwrite_replaces_an_earlier_run(self, closed_port: int, tmp_path: Path) -> None:
        (tmp_path / "conformance.json").write_text("{}")
        url = f"http://127.0.0.1:{closed_port}/api/v1/voke-esm"

        result = conformance("--base-url", url, "--report-dir", str(tmp_path), "--overwrite")

        assert result.exit_code == ExitCode.UNREACHABLE, result.output
        assert json_report(tmp_path)["summary"]["error"] == 1


class TestUnreachable:
    def test_a_dead_url(self, closed_port: int, tmp_path: Path) -> None:
        url = f"http://127.0.0.1:{closed_port}/api/v1/voke-esm"

        result = conformance("--base-url", url, "--report-dir", str(tmp_path))

        assert result.exit_code == ExitCode.UNREACHABLE, result.output
        assert "Stopped: the ESM cannot be reached" in result.output
        report = json_report(tmp_path)
        assert report["summary"]["error"] == 1
        assert report["summary"]["skip"] == len(report["checks"]) - 1

    async def test_a_refused_secret(self, org: EnabledOrg, tmp_path: Path) -> None:
        options = options_for(org, tmp_path, client_secret="not-the-secret")

        code, lines = await run_conformance(options)

        assert code == ExitCode.UNREACHABLE
        assert "Stopped: the ESM refused the client credentials" in "\n".join(lines)

    async def test_through_the_command_line(self, org: EnabledOrg) -> None:
        env = {"VOKE_ESM_CLIENT_SECRET": "not-the-secret"}
        args = ("--base-url", org.esm_api_url, "--only", "LIST-*")

        result = await asyncio.to_thread(conformance, *args, env=env)

        assert result.exit_code == ExitCode.UNREACHABLE, result.output


class TestNothingRan:
    def test_only_naming_no_check(self) -> None:
        result = conformance("--base-url", "http://127.0.0.1:1", "--only", "NO-SUCH-CHECK")

        assert result.exit_code == ExitCode.NOTHING_RAN
        assert "No check matches --only NO-SUCH-CHECK" in result.output

    def test_only_writes_without_allowing_them(self, closed_port: int) -> None:
        url = f"http://127.0.0.1:{closed_port}/api/v1/voke-esm"
        result = conformance("--base-url", url, "--only", "WRITE-*")

        assert result.exit_code == ExitCode.NOTHING_RAN, result.output
        assert "No check ran." in result.output
