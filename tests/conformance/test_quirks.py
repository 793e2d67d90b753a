"""Every check can fail: each quirk of the sandbox (CONTRACT §14) turns exactly its own check red
and leaves every other one green."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conformance.conftest import json_report, options_for, outcomes, run_conformance
from tests.conformance.test_against_sandbox import set_quirks
from tests.factories import Api, EnabledOrg
from voke_esm.conformance.catalog import CHECKS, CHECKS_BY_ID
from voke_esm.conformance.runner import ExitCode
from voke_esm.sandbox.trading.quirks import QUIRKS


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: one database proves what a quirk does to a run; test_against_sandbox runs
    the clean checks on PostgreSQL too."""
    path = tmp_path / "voke-esm.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def test_every_check_has_a_quirk() -> None:
    assert sorted(quirk.check for quirk in QUIRKS.values()) == sorted(c.id for c in CHECKS)


@pytest.mark.parametrize("quirk", list(QUIRKS))
async def test_a_quirk_fails_its_check_and_no_other(
    api: Api, org: EnabledOrg, tmp_path: Path, quirk: str
) -> None:
    await set_quirks(api, org, [quirk])
    check = CHECKS_BY_ID[QUIRKS[quirk].check]
    options = options_for(org, tmp_path, allow_writes=True, plant_id=org.default_plant_id)

    code, lines = await run_conformance(options)

    found = outcomes(json_report(tmp_path))
    assert {name: outcome for name, outcome in found.items() if outcome != "pass"} == {
        check.id: "fail"
    }, "\n".join(lines)
    assert code == (ExitCode.FAILED if check.level == "MUST" else ExitCode.PASSED)
