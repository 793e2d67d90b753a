"""The journal's queries (CONTRACT §11): filters, `before` and `since` paging, and `wait`."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import WHOLE_DAY, Api, EnabledOrg, bearer, validation_error
from voke_esm.core.config import Settings
from voke_esm.core.db import create_engine, create_sessionmaker, session_scope
from voke_esm.core.schemas import utc_now
from voke_esm.sandbox.repositories import journal as journal_repository
from voke_esm.sandbox.tools import service as tools_service
from voke_esm.sandbox.trading.journal import JournalRecorder

JOURNAL = "/api/v1/voke-esm/admin/journal"
TRADING = "/api/v1/voke-esm/trading"
UNPARSABLE = "unable to parse string as an integer"
SHORT = "input is too short"
BAD_BLOCKS = [{**WHOLE_DAY[0], "socMin": 95}]  # socMin above socMax: cfg_rejected


async def get_journal(api: Api, org_id: str, **params: Any) -> httpx.Response:
    return await api.http.get(
        JOURNAL, params={"orgId": org_id, **params}, headers=api.headers, timeout=60
    )


async def entries(api: Api, org_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await get_journal(api, org_id, **params)
    assert response.status_code == 200, response.text
    return list(response.json())


def summary(found: list[dict[str, Any]]) -> list[tuple[str, int, str | None, str | None]]:
    return [
        (entry["path"].removeprefix(TRADING + "/"), entry["status"], entry["plantId"],
         entry["resultCode"])
        for entry in found
    ]  # fmt: skip


@pytest.fixture
async def calls(api: Api, org: EnabledOrg, token: str) -> None:
    """token, plant/list, plant/config 200 and 404, an applied and a rejected update."""
    plant = org.default_plant_id
    await api.http.get(f"{TRADING}/plant/list", headers=bearer(token))
    assert (await api.plant_config(token, plant)).status_code == 200
    assert (await api.plant_config(token, "PLANT-NOPE")).status_code == 404
    applied = await api.update_config(token, plant, WHOLE_DAY)
    rejected = await api.update_config(token, plant, BAD_BLOCKS)
    assert [applied.json()["resultCode"], rejected.json()["resultCode"]] == [
        "applied_ok",
        "cfg_rejected",
    ]


def recorder_of(app: FastAPI) -> JournalRecorder:
    recorder: JournalRecorder = app.state.journal
    return recorder


async def until_waiting(app: FastAPI, org: EnabledOrg, task: asyncio.Task[Any]) -> None:
    """Until the journal read in `task` waits for the org's entries (it looked, found none)."""
    deadline = time.monotonic() + 10
    while recorder_of(app).watching(uuid.UUID(org.id)) == 0:
        assert not task.done(), task.result().text
        assert time.monotonic() < deadline, "the journal read never started waiting"
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)  # past its first look, which finds nothing


class TestFilters:
    @pytest.mark.usefixtures("calls")
    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"endpoint": "token"}, [("token", 200, None, None)]),
            ({"endpoint": "plant/list"}, [("plant/list", 200, None, None)]),
            (
                {"endpoint": "plant/config"},
                [("plant/config", 404, "PLANT-NOPE", None), ("plant/config", 200, "P", None)],
            ),
            (
                {"endpoint": "plant/config/update"},
                [
                    ("plant/config/update", 200, "P", "cfg_rejected"),
                    ("plant/config/update", 200, "P", "applied_ok"),
                ],
            ),
            ({"status": 404}, [("plant/config", 404, "PLANT-NOPE", None)]),
            ({"resultCode": "applied_ok"}, [("plant/config/update", 200, "P", "applied_ok")]),
            (
                {"plantId": "P", "endpoint": "plant/config"},
                [("plant/config", 200, "P", None)],
            ),
            (
                {"plantId": "P"},
                [
                    ("plant/config/update", 200, "P", "cfg_rejected"),
                    ("plant/config/update", 200, "P", "applied_ok"),
                    ("plant/config", 200, "P", None),
                ],
            ),
            ({"status": 200, "resultCode": "cfg_accepted"}, []),
        ],
    )
    async def test_each_filter_keeps_the_matching_calls_newest_first(
        self,
        api: Api,
        org: EnabledOrg,
        params: dict[str, Any],
        expected: list[tuple[str, int, str | None, str | None]],
    ) -> None:
        plant = org.default_plant_id
        if params.get("plantId") == "P":
            params = {**params, "plantId": plant}

        found = await entries(api, org.id, **params)

        assert summary(found) == [
            (path, status, plant if plant_id == "P" else plant_id, result)
            for path, status, plant_id, result in expected
        ]

    @pytest.mark.usefixtures("calls")
    async def test_the_wildcard_endpoint_is_every_call(self, api: Api, org: EnabledOrg) -> None:
        assert await entries(api, org.id, endpoint="*") == await entries(api, org.id)
        assert len(await entries(api, org.id)) == 6

    @pytest.mark.parametrize(
        ("params", "field", "message"),
        [
            (
                {"endpoint": "plant"},
                "endpoint",
                "Input should be 'token', 'plant/list', 'plant/config', "
                "'plant/config/update' or '*'",
            ),
            ({"status": "600"}, "status", "Input should be less than or equal to 599"),
            ({"status": "ok"}, "status", f"Input should be a valid integer, {UNPARSABLE}"),
            ({"plantId": ""}, "plantId", "String should have at least 1 character"),
            ({"resultCode": "x" * 33}, "resultCode", "String should have at most 32 characters"),
            ({"before": "soon"}, "before", f"Input should be a valid datetime or date, {SHORT}"),
            ({"wait": "31"}, "wait", "Input should be less than or equal to 30"),
            ({"wait": "-1"}, "wait", "Input should be greater than or equal to 0"),
            ({"wait": "nan"}, "wait", "Input should be a finite number"),
        ],
    )  # fmt: skip
    async def test_a_bad_filter_or_wait_is_400_at_its_field(
        self, api: Api, org: EnabledOrg, params: dict[str, str], field: str, message: str
    ) -> None:
        response = await get_journal(api, org.id, **params)

        assert (response.status_code, response.json()) == (
            400,
            validation_error((field, message)),
        )


class TestPaging:
    async def test_before_pages_backwards_and_since_forwards_without_overlap(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        for code in ("a", "b", "c", "d"):
            await api.update_config(token, org.default_plant_id, WHOLE_DAY, code=code)
        everything = await entries(api, org.id)
        assert [entry["configUpdateReqCode"] for entry in everything] == [
            "d", "c", "b", "a", None
        ]  # fmt: skip

        first = await entries(api, org.id, limit=2)
        second = await entries(api, org.id, limit=2, before=first[-1]["at"])
        third = await entries(api, org.id, limit=2, before=second[-1]["at"])
        between = await entries(api, org.id, since=everything[3]["at"], before=everything[0]["at"])

        assert [first, second, third] == [everything[0:2], everything[2:4], everything[4:]]
        assert await entries(api, org.id, before=everything[-1]["at"]) == []
        assert between == everything[1:3]  # both ends exclusive


class TestWait:
    async def test_answers_promptly_when_a_matching_call_arrives_during_the_wait(
        self,
        app: FastAPI,
        api: Api,
        org: EnabledOrg,
        token: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Only the journal's own signal may wake the read: no re-check comes to its rescue.
        monkeypatch.setattr(tools_service, "JOURNAL_RECHECK_S", 60.0)
        waiting = asyncio.create_task(
            get_journal(api, org.id, endpoint="plant/config/update", wait=20)
        )
        await until_waiting(app, org, waiting)

        # A call that does not match leaves it waiting; one that does ends the wait.
        assert (await api.plant_config(token, org.default_plant_id)).status_code == 200
        update = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="r-1")
        answered_at = time.monotonic()
        response = await waiting
        latency = time.monotonic() - answered_at

        assert update.status_code == 200
        assert response.status_code == 200
        assert [entry["configUpdateReqCode"] for entry in response.json()] == ["r-1"]
        assert latency < 0.3, f"the waiting read answered {latency:.3f} s after the call"

    async def test_answers_at_once_when_an_entry_already_matches(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        started = time.monotonic()
        found = await entries(api, org.id, endpoint="token", wait=20)

        assert [entry["path"] for entry in found] == [f"{TRADING}/token"]
        assert time.monotonic() - started < 1

    async def test_answers_an_empty_list_when_the_time_is_up(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        started = time.monotonic()
        found = await entries(api, org.id, endpoint="plant/config/update", wait=0.4)
        elapsed = time.monotonic() - started

        assert found == []
        assert 0.4 <= elapsed < 2

    async def test_sees_entries_another_instance_writes(
        self, app: FastAPI, api: Api, org: EnabledOrg, settings: Settings
    ) -> None:
        """Entries this process's writer never saw (another instance's, on the same database)
        are found by the bounded re-check."""
        waiting = asyncio.create_task(get_journal(api, org.id, resultCode="applied_ok", wait=20))
        await until_waiting(app, org, waiting)
        engine = create_engine(settings.resolved_database_url)
        try:
            async with session_scope(create_sessionmaker(engine)) as session:
                entry = {
                    "org_id": uuid.UUID(org.id),
                    "at": utc_now(),
                    "client_id": org.client_id,
                    "method": "POST",
                    "path": f"{TRADING}/plant/config/update",
                    "status": 200,
                    "plant_id": org.default_plant_id,
                    "config_update_req_code": "elsewhere",
                    "result_code": "applied_ok",
                    "duration_ms": 1.0,
                }
                await journal_repository.add_entries(session, [entry], keep=1000)
        finally:
            await engine.dispose()
        written_at = time.monotonic()
        response = await waiting
        latency = time.monotonic() - written_at

        assert [entry["configUpdateReqCode"] for entry in response.json()] == ["elsewhere"]
        assert latency < tools_service.JOURNAL_RECHECK_S + 0.5

    async def test_a_waiting_read_holds_no_connection(
        self, app: FastAPI, api: Api, org: EnabledOrg, token: str
    ) -> None:
        """While a read waits, admin requests and trading calls (which need a connection, the
        only one on SQLite) are answered as quickly as ever."""
        waiting = asyncio.create_task(get_journal(api, org.id, resultCode="cfg_accepted", wait=5))
        await until_waiting(app, org, waiting)

        started = time.monotonic()
        status = await api.status(org.id)
        update = await api.update_config(token, org.default_plant_id, WHOLE_DAY)
        elapsed = time.monotonic() - started

        assert status["enabled"] is True
        assert update.json()["resultCode"] == "applied_ok"
        assert elapsed < 1
        assert not waiting.done()
        waiting.cancel()


async def put_faults(api: Api, org_id: str, *rules: dict[str, Any]) -> None:
    response = await api.http.put(
        "/api/v1/voke-esm/admin/faults",
        params={"orgId": org_id},
        json={"rules": list(rules)},
        headers=api.headers,
    )
    assert response.status_code == 200, response.text


class TestDetails:
    async def test_a_config_update_keeps_its_blocks_and_the_errors_answered(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        plant = org.default_plant_id
        applied = await api.update_config(token, plant, WHOLE_DAY, code="ok")
        rejected = await api.update_config(token, plant, BAD_BLOCKS, code="bad")
        await api.http.get(f"{TRADING}/plant/list", headers=bearer(token))

        listed, bad, good, exchange = await entries(api, org.id)

        assert rejected.json()["errors"] == [
            {"field": "timeConfigs[0].socMin", "message": "must not exceed socMax"}
        ]
        assert (good["timeConfigs"], good["errors"]) == (WHOLE_DAY, applied.json()["errors"])
        assert (bad["timeConfigs"], bad["errors"]) == (BAD_BLOCKS, rejected.json()["errors"])
        for other in (listed, exchange):
            assert (other["timeConfigs"], other["errors"], other["fault"]) == (None, None, None)

    async def test_a_body_refused_as_a_whole_keeps_the_errors_of_its_400(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        body = {"plantId": org.default_plant_id, "configUpdateReqCode": "x", "timeConfigs": [{}]}
        refused = await api.http.post(
            f"{TRADING}/plant/config/update", json=body, headers=bearer(token)
        )
        assert refused.status_code == 400

        (entry,) = await entries(api, org.id, endpoint="plant/config/update")

        assert entry["status"] == 400
        assert entry["timeConfigs"] is None  # the shape was wrong: no blocks to show
        assert entry["errors"] == refused.json()["details"]["errors"]
        assert len(entry["errors"]) == 6  # each missing field of the block

    async def test_blocks_and_errors_beyond_a_hundred_are_not_kept(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        blocks = [BAD_BLOCKS[0]] * 150  # each rejected, and each overlapping the one before
        answer = await api.update_config(token, org.default_plant_id, blocks)
        assert len(answer.json()["errors"]) > 100

        (entry,) = await entries(api, org.id, endpoint="plant/config/update")

        assert entry["timeConfigs"] == blocks[:100]
        assert entry["errors"] == answer.json()["errors"][:100]

    async def test_answers_made_by_a_fault_rule_are_marked_with_its_kind(
        self, api: Api, org: EnabledOrg, token: str
    ) -> None:
        await put_faults(
            api,
            org.id,
            {"endpoint": "plant/list", "kind": "latency", "latencyMs": 1, "count": 1},
            {"endpoint": "plant/config", "kind": "latency", "latencyMs": 1, "count": 1},
            {"endpoint": "plant/config", "kind": "error", "status": 503, "count": 1},
        )
        listed = await api.http.get(f"{TRADING}/plant/list", headers=bearer(token))
        faulted = await api.plant_config(token, org.default_plant_id)
        normal = await api.plant_config(token, org.default_plant_id)

        found = await entries(api, org.id)

        assert [listed.status_code, faulted.status_code, normal.status_code] == [200, 503, 200]
        assert [(entry["status"], entry["fault"]) for entry in found] == [
            (200, None),  # the rules are spent
            (503, "error"),  # the latency fired too, but the answer is the error's
            (200, "latency"),
            (200, None),  # the token exchange
        ]
