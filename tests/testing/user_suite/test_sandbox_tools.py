"""A user's suite beyond the README's example: what issue 14 asks the installed plugin to show.

Run by tests/testing/test_wheel.py in a fresh virtual environment with the wheel installed
(also with two xdist workers), and collected by this project's own suite as any test file is.
"""

import os
import threading
from pathlib import Path

import httpx
import pytest

from voke_esm.testing import EsmSandbox, SandboxOrg


def token(org: SandboxOrg) -> str:
    answer = httpx.post(
        f"{org.esm_api_url}/trading/token",
        json={"clientId": org.client_id, "clientSecret": org.client_secret},
    ).raise_for_status()
    return str(answer.json()["accessToken"])


def plant_config(org: SandboxOrg, plant_id: str) -> httpx.Response:
    return httpx.get(
        f"{org.esm_api_url}/trading/plant/config",
        params={"plantId": plant_id},
        headers={"Authorization": f"Bearer {token(org)}"},
    )


def test_a_failing_assert_called_lists_the_calls_made_near_misses_first(
    esm_org: SandboxOrg,
) -> None:
    default_plant = esm_org.plants.list()[0]["external_plant_id"]
    plant_config(esm_org, default_plant)

    with pytest.raises(AssertionError) as failure:
        esm_org.journal.assert_called("plant/config", plant_id="PLANT-NEVER-ASKED")

    lines = str(failure.value).splitlines()
    assert lines[0] == (
        "expected plant/config to be called at least once with plant_id='PLANT-NEVER-ASKED',"
        " but it was called 0 times so far."
    )
    assert lines[1] == "Calls made (2, near misses first):"
    assert lines[2].startswith(f"  GET plant/config -> 200 plant_id={default_plant!r} at ")
    assert lines[2].endswith(f"<- near miss: plant_id={default_plant!r}")
    assert lines[3].startswith("  POST token -> 200 at ")


def test_an_injected_fault_is_gone_after_its_block(esm_org: SandboxOrg) -> None:
    plant = esm_org.plants.list()[0]["external_plant_id"]
    with esm_org.faults.inject("plant/config", "error", status=503):
        assert plant_config(esm_org, plant).status_code == 503
        assert len(esm_org.faults.get()["rules"]) == 1

    assert esm_org.faults.get()["rules"] == []
    assert plant_config(esm_org, plant).status_code == 200
    esm_org.journal.assert_called("plant/config", times=1, status=503)


def test_wait_for_sees_a_call_made_by_another_thread(esm_org: SandboxOrg) -> None:
    plant = esm_org.plants.list()[0]["external_plant_id"]
    caller = threading.Timer(0.3, plant_config, args=(esm_org, plant))
    caller.start()
    try:
        entry = esm_org.journal.wait_for("plant/config", timeout=10, plant_id=plant)
    finally:
        caller.join()
    assert entry["status"] == 200
    assert entry["plant_id"] == plant


@pytest.mark.esm(token_ttl_seconds=30)
def test_the_marker_sets_the_token_lifetime(esm_org: SandboxOrg) -> None:
    answer = httpx.post(
        f"{esm_org.esm_api_url}/trading/token",
        json={"clientId": esm_org.client_id, "clientSecret": esm_org.client_secret},
    )
    assert answer.json()["expiresIn"] == 30


@pytest.mark.parametrize("round", range(4))
def test_an_org_sees_only_its_own_calls(
    esm_org: SandboxOrg, esm_sandbox: EsmSandbox, round: int
) -> None:
    """Under xdist, the workers' tests run at once: each org's journal holds its calls only."""
    record = os.environ.get("ESM_SANDBOX_RECORD_DIR")
    if record:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        (Path(record) / f"{worker}.url").write_text(esm_sandbox.base_url)
    for _ in range(3):
        token(esm_org)
    calls = esm_org.journal.entries()
    assert [call["client_id"] for call in calls] == [esm_org.client_id] * 3
