import httpx
import pytest

from voke_esm.testing import SandboxOrg


def plant_ids(esm_api_url: str, client_id: str, client_secret: str) -> list[str]:
    """The ESM client under test: a token, then the plant list."""
    with httpx.Client(base_url=esm_api_url) as esm:
        token = esm.post(
            "/trading/token", json={"clientId": client_id, "clientSecret": client_secret}
        ).raise_for_status()
        bearer = {"Authorization": f"Bearer {token.json()['accessToken']}"}
        plants = esm.get("/trading/plant/list", headers=bearer).raise_for_status()
        return [plant["plantId"] for plant in plants.json()]


def test_lists_the_plants(esm_org: SandboxOrg) -> None:
    esm_org.plants.create(external_plant_id="PV-ROOF-1", capacity_kwh=10)

    ids = plant_ids(esm_org.esm_api_url, esm_org.client_id, esm_org.client_secret)

    assert "PV-ROOF-1" in ids
    esm_org.journal.assert_called("plant/list", times=1)


def test_reports_a_failing_esm(esm_org: SandboxOrg) -> None:
    with (
        esm_org.faults.inject("plant/list", "error", status=503),
        pytest.raises(httpx.HTTPStatusError),
    ):
        plant_ids(esm_org.esm_api_url, esm_org.client_id, esm_org.client_secret)

    esm_org.journal.assert_called("plant/list", status=503)


@pytest.mark.esm(rate_limit="1/minute")
def test_meets_the_rate_limit(esm_org: SandboxOrg) -> None:
    plant_ids(esm_org.esm_api_url, esm_org.client_id, esm_org.client_secret)
    with pytest.raises(httpx.HTTPStatusError):
        plant_ids(esm_org.esm_api_url, esm_org.client_id, esm_org.client_secret)

    esm_org.journal.assert_called("token", times=1, status=429)
