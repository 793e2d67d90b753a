"""Schemathesis over every operation of /openapi.json, against the service on a loopback port.

Inputs are generated from the schema, valid and invalid ones; each answer must not be a 5xx
(CONTRACT §2: no 500 for anything a client can send), must carry a status the operation
documents, and must fit the schema documented for that status. Admin and Voke-side operations
get a SuperAdmin's token, trading ones a trading token, so the fuzz reaches past the auth checks.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from tests.conftest import make_settings, run_in_thread
from tests.factories import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.robustness.servers import create_super_admin, threaded_service
from voke_esm.app import create_app
from voke_esm.migrations import upgrade_to_head

if TYPE_CHECKING:
    # A typing-only alias of schemathesis: the Case an OpenAPI schema generates.
    from schemathesis.specs.openapi.schemas import OpenApiCase

TRADING = "/api/v1/voke-esm/trading"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True)
class Live:
    base_url: str
    admin_headers: dict[str, str]
    trading_headers: dict[str, str]


def _prepare(base_url: str) -> Live:
    """Sign in; enable one org so that a real trading token exists."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        login = http.post(
            "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        admin = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        org = http.post("/api/v1/orgs", json={"name": "Fuzzed"}, headers=admin).json()
        credentials = http.post(
            "/api/v1/voke-esm/admin/enable", params={"orgId": org["id"]}, headers=admin
        ).json()
        token = http.post(
            f"{TRADING}/token",
            json={"clientId": credentials["clientId"], "clientSecret": credentials["clientSecret"]},
        ).json()["accessToken"]
    return Live(base_url, admin, {"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite+aiosqlite:///{folder / 'voke-esm.db'}"
    upgrade_to_head(url)
    run_in_thread(lambda: asyncio.run(create_super_admin(url)))
    app = create_app(make_settings(folder, url, voke_esm_rate_limit="100000/minute"))
    with threaded_service(app) as base_url:
        yield _prepare(base_url)


def _documented_schema() -> dict[str, Any]:
    """The app's OpenAPI document, built at collection time (no database is touched)."""
    folder = Path(tempfile.gettempdir())
    unused = f"sqlite+aiosqlite:///{folder / 'voke-esm-openapi-unused.db'}"  # never opened
    app = create_app(make_settings(folder, unused))
    return app.openapi()


DOCUMENTED = _documented_schema()
schema = schemathesis.openapi.from_dict(DOCUMENTED)


def test_the_served_schema_is_the_one_fuzzed(live: Live) -> None:
    assert httpx.get(f"{live.base_url}/openapi.json").json() == DOCUMENTED


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,  # the same inputs on every run: a failure here is reproducible
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_answer_fits_its_schema(case: OpenApiCase, live: Live) -> None:
    headers = live.trading_headers if case.path.startswith(TRADING) else live.admin_headers
    try:
        case.call_and_validate(base_url=live.base_url, headers=headers, checks=CHECKS, timeout=30)
    except FailureGroup as failures:
        # Schemathesis' own report repeats the request as curl: megabytes for a 413's body.
        found = [f"{failure.title}: {failure.message[:600]}" for failure in failures.exceptions]
        raise AssertionError(f"{case.method} {case.path}\n" + "\n".join(found)) from None
