"""The seed's flow in one pass: enable, token, list, config, update, config again."""

from __future__ import annotations

from tests.factories import WHOLE_DAY, Api


async def test_seed_flow_from_enable_to_applied_update(api: Api) -> None:
    org = await api.enabled_org("Acme")
    token = await api.trading_token(org.client_id, org.client_secret)

    listed = await api.http.get(
        "/api/v1/voke-esm/trading/plant/list", headers={"Authorization": f"Bearer {token}"}
    )
    assert listed.status_code == 200
    assert [plant["plantId"] for plant in listed.json()] == [org.default_plant_id]

    before = await api.plant_config(token, org.default_plant_id)
    assert before.json()["version"] == 1

    update = await api.update_config(token, org.default_plant_id, WHOLE_DAY, code="req-abc123")
    assert update.json() == {
        "plantId": org.default_plant_id,
        "configUpdateReqCode": "req-abc123",
        "resultCode": "applied_ok",
        "version": 2,
        "errors": [],
    }
    after = await api.plant_config(token, org.default_plant_id)
    assert after.json() == {
        "plantId": org.default_plant_id,
        "version": 2,
        "configEnabled": True,
        "esiState": "PLC_READY",
        "timeConfigs": WHOLE_DAY,
    }
