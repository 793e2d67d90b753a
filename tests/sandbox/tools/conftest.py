"""Fixtures of the sandbox tools' tests: an enabled org named Acme and a trading token of it."""

from __future__ import annotations

import pytest

from tests.factories import Api, EnabledOrg


@pytest.fixture
async def org(api: Api) -> EnabledOrg:
    return await api.enabled_org("Acme")


@pytest.fixture
async def token(api: Api, org: EnabledOrg) -> str:
    return await api.trading_token(org.client_id, org.client_secret)
