"""`voke-esm conformance` against the sandbox served on a loopback port (CONTRACT §14): every
check passes, a run without --allow-writes changes nothing, one with it puts the plant back, the
reports parse and hold no secret or token, and the run keeps to the rate limit."""

from __future__ import annotations

import asyncio
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conformance.conftest import (
    admin_get,
    json_report,
    options_for,
    outcomes,
    run_conformance,
)
from tests.factories import Api, EnabledOrg
from tests.live import live_settings
from voke_esm.cli import app as cli
from voke_esm.conformance.catalog import CHECKS
from voke_esm.conformance.runner import ExitCode

WRITE_CHECKS = {check.id for check in CHECKS if check.writes}
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
REPORTS = ("conformance.json", "conformance.junit.xml", "conformance.html")


class TestReadOnly:
    async def test_every_check_passes_and_nothing_changes(
        self, api: Api, org: EnabledOrg, tmp_path: Path
    ) -> None:
        before = await admin_get(api, org, "snapshot")

        code, lines = await run_conformance(options_for(org, tmp_path))

        assert code == ExitCode.PASSED, "\n".join(lines)
        found = outcomes(json_report(tmp_path))
        assert list(found) == [check.id for check in CHECKS]  # every check, in order
        assert {check for check, outcome in found.items() if outcome != "pass"} == WRITE_CHECKS
        assert {found[check] for check in WRITE_CHECKS} == {"skip"}
        assert await admin_get(api, org, "snapshot") == before

    async def test_the_expected_duration_comes_first_then_a_line_per_check(
        self, org: EnabledOrg, tmp_path: Path
    ) -> None:
        _, lines = await run_conformance(options_for(org, tmp_path, rate_limit="10/minute"))

        assert lines[1].startswith("Expected duration: a few seconds (10 calls to plant/config/")
        check_lines = lines[2 : 2 + len(CHECKS)]
        assert [line.split()[1] for line in check_lines] == [check.id for check in CHECKS]
        assert lines[-2].startswith("Summary: 18 passed, 0 failed, 2 skipped, 0 errors")


class TestWrites:
    async def test_every_check_passes_and_the_plant_gets_its_blocks_back(
        self, api: Api, org: EnabledOrg, tmp_path: Path
    ) -> None:
        (before,) = (await admin_get(api, org, "snapshot"))["plants"]
        options = options_for(org, tmp_path, allow_writes=True, plant_id=org.default_plant_id)

        code, lines = await run_conformance(options)

        assert code == ExitCode.PASSED, "\n".join(lines)
        assert set(outcomes(json_report(tmp_path)).values()) == {"pass"}
        (after,) = (await admin_get(api, org, "snapshot"))["plants"]
        # Four versions applied: WRITE-APPLIED's, WRITE-CONCURRENT's two, and the restore.
        assert after == {**before, "version": before["version"] + 4}
        restored = f"Restored plant {org.default_plant_id}'s original blocks as version"
        assert f"{restored} {after['version']}." in lines


class TestReports:
    async def test_they_parse_and_hold_no_secret_or_token(
        self, org: EnabledOrg, tmp_path: Path
    ) -> None:
        await run_conformance(
            options_for(org, tmp_path, allow_writes=True, plant_id=org.default_plant_id)
        )

        report = json_report(tmp_path)
        assert set(report) == {"target", "startedAt", "durationS", "summary", "checks"}
        assert report["summary"] == {"pass": len(CHECKS), "fail": 0, "skip": 0, "error": 0}
        assert report["target"] == org.esm_api_url
        for check in report["checks"]:
            assert set(check) == {"id", "level", "section", "outcome", "message", "request",
                                  "response"}  # fmt: skip
        suite = ET.parse(tmp_path / "conformance.junit.xml").getroot().find("testsuite")
        assert suite is not None
        names = [case.get("name") for case in suite.iter("testcase")]
        assert names == [check.id for check in CHECKS]
        for name in REPORTS:
            text = (tmp_path / name).read_text()
            assert org.client_secret not in text, name
            assert not JWT.search(text), name
        token_answer = next(c for c in report["checks"] if c["id"] == "TOKEN-JSON")["response"]
        assert token_answer["body"]["accessToken"] == "***"
        form = next(c for c in report["checks"] if c["id"] == "TOKEN-FORM")["request"]
        assert form["headers"]["authorization"] == "Basic ***"

    async def test_a_failure_holds_its_request_answer_and_contract_text(
        self, api: Api, org: EnabledOrg, tmp_path: Path
    ) -> None:
        await set_quirks(api, org, ["forbiddenForUnauthorized"])

        code, _ = await run_conformance(options_for(org, tmp_path))

        assert code == ExitCode.FAILED
        (failed,) = [c for c in json_report(tmp_path)["checks"] if c["outcome"] == "fail"]
        assert failed["id"] == "AUTH-MISSING"
        assert failed["message"].startswith("answered 403, not 401; ")
        assert "(§2: A trading call without a token is 401 UNAUTHORIZED" in failed["message"]
        assert failed["request"]["method"] == "GET"
        assert "authorization" not in failed["request"]["headers"]
        assert failed["response"]["status"] == 403
        assert failed["response"]["body"]["code"] == "FORBIDDEN"
        html = (tmp_path / "conformance.html").read_text()
        assert html.index("AUTH-MISSING") < html.index("TOKEN-JSON")  # failures first
        suite = ET.parse(tmp_path / "conformance.junit.xml").getroot().find("testsuite")
        assert suite is not None
        assert suite.get("failures") == "1"


class TestPacing:
    async def test_the_run_keeps_to_the_rate_limit(self, org: EnabledOrg, tmp_path: Path) -> None:
        # 10 updates at 2 a second: the 3rd waits a second, ..., the 9th and 10th four (an
        # unpaced run takes about one second).
        started = time.monotonic()
        code, lines = await run_conformance(options_for(org, tmp_path, rate_limit="2/second"))

        assert code == ExitCode.PASSED
        assert time.monotonic() - started >= 4.0
        assert lines[1].startswith("Expected duration: about 4 s (10 calls to plant/config/update")


class TestRetryAfter:
    @pytest.fixture(name="settings_overrides")
    def strict_sandbox(self, sandbox_url: str) -> dict[str, Any]:
        return live_settings(sandbox_url, voke_esm_rate_limit="4/second")

    async def test_the_run_waits_it_out(self, api: Api, org: EnabledOrg, tmp_path: Path) -> None:
        # The sandbox allows 4 a second; told 10000 a minute, the run meets its 429s.
        code, lines = await run_conformance(options_for(org, tmp_path))

        assert code == ExitCode.PASSED, "\n".join(lines)
        journal = await admin_get(api, org, "journal")
        assert any(entry["status"] == 429 for entry in journal)


class TestCommandLine:
    async def test_as_a_new_user_runs_it(self, org: EnabledOrg, tmp_path: Path) -> None:
        env = {"VOKE_ESM_CLIENT_SECRET": org.client_secret}
        args = ["conformance", "--base-url", org.esm_api_url, "--client-id", org.client_id]
        args += ["--rate-limit", "10000/minute", "--report-dir", str(tmp_path)]

        result = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)

        assert result.exit_code == 0, result.output
        assert "Every MUST check passed." in result.output
        assert all((tmp_path / name).is_file() for name in REPORTS)


async def set_quirks(api: Api, org: EnabledOrg, quirks: list[str]) -> Any:
    response = await api.http.put(
        "/api/v1/voke-esm/admin/quirks",
        params={"orgId": org.id},
        json={"quirks": quirks},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()
