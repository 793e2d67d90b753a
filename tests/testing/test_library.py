"""voke_esm.testing against an in-process sandbox, through the plugin's own fixtures (CONTRACT
§13): what each helper of `EsmSandbox` and `SandboxOrg` does."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from voke_esm.testing import EsmSandbox, SandboxError, SandboxOrg

BLOCK = {
    "from": "00:00",
    "to": "23:59",
    "p_bat_max": 5,
    "p_bat_min": -5,
    "soc_max": 90,
    "soc_min": 10,
}


def trading_token(org: SandboxOrg) -> httpx.Response:
    return httpx.post(
        f"{org.esm_api_url}/trading/token",
        json={"clientId": org.client_id, "clientSecret": org.client_secret},
    )


class TestPlugin:
    def test_loading_it_imports_neither_the_service_nor_httpx(self) -> None:
        loaded = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, voke_esm.testing.plugin;"
                " print(' '.join(sorted(m for m in ('voke_esm.app', 'fastapi', 'httpx',"
                " 'sqlalchemy', 'uvicorn') if m in sys.modules)))",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert loaded.stdout.strip() == ""

    def test_esm_org_is_enabled_with_the_default_plant_and_a_high_rate_limit(
        self, esm_org: SandboxOrg, esm_sandbox: EsmSandbox
    ) -> None:
        assert esm_org.esm_api_url == esm_sandbox.esm_api_url
        assert esm_sandbox.esm_api_url.startswith("http://127.0.0.1:")
        assert len(esm_org.plants.list()) == 1
        assert esm_org.faults.get()["rate_limit"] == "100000/minute"
        assert trading_token(esm_org).status_code == 200

    @pytest.mark.esm(rate_limit="2/minute", token_ttl_seconds=45)
    def test_the_marker_sets_the_orgs_limits(self, esm_org: SandboxOrg) -> None:
        statuses = [trading_token(esm_org).status_code for _ in range(3)]

        assert statuses == [200, 200, 429]
        faults = esm_org.faults.get()
        assert (faults["rate_limit"], faults["token_ttl_seconds"]) == ("2/minute", 45)


class TestSandbox:
    def test_a_running_sandbox_is_used_by_url_with_a_super_admins_credentials(
        self, esm_sandbox: EsmSandbox
    ) -> None:
        email, password = f"admin-{uuid.uuid4().hex[:8]}@example.com", "a long password"
        esm_sandbox._http.post(
            "/api/v1/users", json={"email": email, "password": password, "role": "SUPER_ADMIN"}
        ).raise_for_status()

        with EsmSandbox.start(esm_sandbox.base_url, email=email, password=password) as running:
            org = running.create_org()
            assert not running.in_process
            assert trading_token(org).status_code == 200
            org.delete()
        assert esm_sandbox.create_org().client_id  # the running sandbox was left running

    def test_a_running_sandbox_without_credentials_is_refused_with_a_reason(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("VOKE_ADMIN_EMAIL", raising=False)
        monkeypatch.setenv("VOKE_ESM_SANDBOX_URL", "http://127.0.0.1:9")
        with pytest.raises(ValueError, match="VOKE_ADMIN_EMAIL and VOKE_ADMIN_PASSWORD"):
            EsmSandbox.start()

    def test_a_refusal_is_a_sandbox_error_with_the_envelope(self, esm_org: SandboxOrg) -> None:
        with pytest.raises(SandboxError) as refused:
            esm_org.plants.create(capacity_kwh=-1)

        assert (refused.value.status_code, refused.value.code) == (400, "VALIDATION_ERROR")
        assert refused.value.details["errors"][0]["field"] == "capacityKwh"

    def test_a_deleted_orgs_credentials_stop_working(self, esm_sandbox: EsmSandbox) -> None:
        org = esm_sandbox.create_org()
        org.delete()

        assert trading_token(org).status_code == 401


class TestPlants:
    def test_create_get_update_list_delete_in_snake_case(self, esm_org: SandboxOrg) -> None:
        plant = esm_org.plants.create(
            external_plant_id="P-1", capacity_kwh=12.5, time_configs=[BLOCK]
        )

        assert (plant["external_plant_id"], plant["capacity_kwh"]) == ("P-1", 12.5)
        assert plant["time_configs"] == [BLOCK]
        assert esm_org.plants.get(plant["id"]) == plant
        assert esm_org.plants.update(plant["id"], name="Roof")["name"] == "Roof"
        assert len(esm_org.plants.list()) == 2
        esm_org.plants.delete(plant["id"])
        assert [p["id"] for p in esm_org.plants.list()] != [plant["id"]]
        assert len(esm_org.plants.list()) == 1


class TestFaults:
    def test_inject_keeps_the_orgs_other_rules_and_settings(self, esm_org: SandboxOrg) -> None:
        esm_org.faults.set(
            [{"endpoint": "token", "kind": "latency", "latency_ms": 1}], token_ttl_seconds=60
        )

        with esm_org.faults.inject("*", "error", status=500, count=1) as rule:
            assert rule["status"] == 500
            assert trading_token(esm_org).status_code == 500
            assert len(esm_org.faults.get()["rules"]) == 2

        after = esm_org.faults.get()
        assert [r["kind"] for r in after["rules"]] == ["latency"]
        assert after["token_ttl_seconds"] == 60
        esm_org.faults.clear()
        assert esm_org.faults.get() == {"rules": [], "token_ttl_seconds": None, "rate_limit": None}


class TestJournal:
    def test_entries_oldest_first_filtered_and_cleared(self, esm_org: SandboxOrg) -> None:
        trading_token(esm_org)
        with esm_org.faults.inject("token", "error", status=503):
            trading_token(esm_org)

        assert [e["status"] for e in esm_org.journal.entries()] == [200, 503]
        assert [e["status"] for e in esm_org.journal.entries("token", status=503)] == [503]
        assert esm_org.journal.entries("plant/list") == []
        assert len(esm_org.journal.assert_called("token", times=2)) == 2
        esm_org.journal.clear()
        assert esm_org.journal.entries() == []

    def test_assert_called_with_no_call_says_none_was_made(self, esm_org: SandboxOrg) -> None:
        with pytest.raises(AssertionError) as failure:
            esm_org.journal.assert_called("token", times=2)

        assert str(failure.value) == (
            "expected token to be called 2 times, but it was called 0 times so far.\n"
            "No trading call was made (the client never reached this org's sandbox)."
        )

    def test_an_unknown_endpoint_is_a_value_error(self, esm_org: SandboxOrg) -> None:
        with pytest.raises(ValueError, match="not one of token, plant/list"):
            esm_org.journal.assert_called("plants")  # type: ignore[arg-type]  # on purpose


class TestStateAndTime:
    def test_snapshot_restore_reset(self, esm_org: SandboxOrg) -> None:
        doc = esm_org.snapshot()
        esm_org.plants.create(external_plant_id="EXTRA")
        assert len(esm_org.snapshot()["plants"]) == 2

        assert esm_org.restore(doc) == doc
        esm_org.plants.create(external_plant_id="EXTRA")
        esm_org.reset()
        assert [p["external_plant_id"] for p in esm_org.plants.list()] != ["EXTRA"]
        assert len(esm_org.plants.list()) == 1

    def test_clock_advance_and_telemetry(self, esm_org: SandboxOrg) -> None:
        plant = esm_org.plants.list()[0]
        before = esm_org.clock.get()

        after = esm_org.clock.advance(90)

        assert after["offset_minutes"] == before["offset_minutes"] + 90
        snapshot = esm_org.telemetry.snapshot(plant["id"])
        assert snapshot["external_plant_id"] == plant["external_plant_id"]
        assert 0 <= snapshot["soc"] <= 100

    def test_clock_set_frozen_holds_the_simulated_time(self, esm_org: SandboxOrg) -> None:
        noon = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)

        clock = esm_org.clock.set(noon, frozen=True)

        assert (clock["now"], clock["started_at"], clock["frozen"]) == (
            "2026-06-21T12:00:00.000000Z",
            "2026-06-21T12:00:00.000000Z",
            True,
        )
        assert esm_org.clock.get()["now"] == clock["now"]
        assert esm_org.clock.set("2026-06-21T13:00:00Z")["frozen"] is False
        with pytest.raises(ValueError, match="aware datetime"):
            esm_org.clock.set(datetime(2026, 6, 21, 12, 0))  # naive, on purpose
