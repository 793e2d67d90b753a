"""The pytest plugin of `voke_esm.testing` (CONTRACT §13), registered by the package's `pytest11`
entry point.

Inert until a test asks for one of its fixtures: loading it imports neither the service nor
httpx, and starts nothing.

- `esm_sandbox`: one sandbox per test session (per xdist worker: each worker is a session of its
  own), in the test process, or the running one at `VOKE_ESM_SANDBOX_URL` (signing in with
  `VOKE_ADMIN_EMAIL` and `VOKE_ADMIN_PASSWORD`).
- `esm_org`: a fresh enabled org for each test, deleted after it: one test never sees
  another's calls, plants or faults.
- `@pytest.mark.esm(rate_limit="10/minute", token_ttl_seconds=30)`: the `esm_org` settings of one
  test. Without it the org's rate limit is high (`HIGH_RATE_LIMIT`), as for `create_org()`, and
  tokens live the service's default time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from voke_esm.testing.org import SandboxOrg
    from voke_esm.testing.sandbox import EsmSandbox

MARKER_SETTINGS = ("rate_limit", "token_ttl_seconds")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "esm(rate_limit=None, token_ttl_seconds=None): settings of the esm_org fixture's org"
        " (rate_limit written as VOKE_ESM_RATE_LIMIT is, e.g. '10/minute')",
    )


@pytest.fixture(scope="session")
def esm_sandbox() -> Iterator[EsmSandbox]:
    """The session's sandbox: in this process on a free loopback port with a temporary
    database (removed at the end), or the one at `VOKE_ESM_SANDBOX_URL`."""
    from voke_esm.testing.sandbox import EsmSandbox

    with EsmSandbox.start() as sandbox:
        yield sandbox


@pytest.fixture
def esm_org(esm_sandbox: EsmSandbox, request: pytest.FixtureRequest) -> Iterator[SandboxOrg]:
    """A fresh org with Voke ESM enabled (credentials and one default plant), deleted after the
    test. `@pytest.mark.esm(rate_limit=..., token_ttl_seconds=...)` sets its limits."""
    from voke_esm.testing._wire import HIGH_RATE_LIMIT

    settings: dict[str, Any] = {"rate_limit": HIGH_RATE_LIMIT, "token_ttl_seconds": None}
    marker = request.node.get_closest_marker("esm")
    if marker is not None:
        if marker.args or set(marker.kwargs) - set(MARKER_SETTINGS):
            raise pytest.UsageError(
                f"@pytest.mark.esm takes only keyword arguments {', '.join(MARKER_SETTINGS)};"
                f" {request.node.nodeid} gives {marker.args or ''}{marker.kwargs}"
            )
        settings.update(marker.kwargs)
    name = f"{request.node.name[:80]} {uuid.uuid4().hex[:8]}"
    org = esm_sandbox.create_org(name, **settings)
    try:
        yield org
    finally:
        org.delete()
