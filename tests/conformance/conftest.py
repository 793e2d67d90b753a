"""The sandbox on a real loopback port for `voke-esm conformance` to check (CONTRACT §14), as the
ESM client's tests serve it (tests/voke/client/conftest.py), and the helpers the tests share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.factories import Api, EnabledOrg
from tests.voke.client.conftest import (
    live_sandbox_fixture,
    sandbox_socket_fixture,
    sandbox_url_fixture,
    settings_overrides_fixture,
)
from voke_esm.conformance import runner

__all__ = [
    "live_sandbox_fixture",
    "sandbox_socket_fixture",
    "sandbox_url_fixture",
    "settings_overrides_fixture",
]

# Far above what a run sends: the tests do not wait for pacing unless they mean to.
FAST = "10000/minute"


@pytest.fixture
async def org(api: Api, live_sandbox: str) -> EnabledOrg:
    """An enabled org of the served sandbox, with its one default plant."""
    return await api.enabled_org()


def options_for(org: EnabledOrg, report_dir: Path, **overrides: Any) -> runner.Options:
    values: dict[str, Any] = {
        "base_url": org.esm_api_url,
        "client_id": org.client_id,
        "client_secret": org.client_secret,
        "rate_limit": FAST,
        "report_dir": report_dir,
        **overrides,
    }
    return runner.Options(**values)


async def run_conformance(options: runner.Options) -> tuple[runner.ExitCode, list[str]]:
    """The run's exit status and the lines it printed."""
    lines: list[str] = []
    code = await runner.run(options, lines.append)
    return code, lines


def json_report(folder: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((folder / "conformance.json").read_text())
    return document


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {check["id"]: check["outcome"] for check in report["checks"]}


async def admin_get(api: Api, org: EnabledOrg, tool: str) -> Any:
    response = await api.http.get(
        f"/api/v1/voke-esm/admin/{tool}", params={"orgId": org.id}, headers=api.headers
    )
    assert response.status_code == 200, response.text
    return response.json()
