"""`EsmSandbox.start()` in a plain script, as a user would outside pytest: prints the
sandbox's base URL and temporary folder, then checks both are gone after the `with` block."""

import tempfile
from pathlib import Path

import httpx

from voke_esm.testing import EsmSandbox


def folders() -> set[Path]:
    return {
        path
        for path in Path(tempfile.gettempdir()).glob("voke-esm-sandbox-*")
        if not path.name.startswith("voke-esm-sandbox-templates-")
    }


before = folders()
with EsmSandbox.start() as sandbox:
    org = sandbox.create_org("outside pytest")
    assert httpx.get(f"{sandbox.base_url}/readyz").status_code == 200
    assert folders() - before, "the sandbox's temporary database folder exists while it runs"
    token = httpx.post(
        f"{org.esm_api_url}/trading/token",
        json={"clientId": org.client_id, "clientSecret": org.client_secret},
    )
    assert token.status_code == 200
    org.journal.assert_called("token", times=1)
    print(f"sandbox at {sandbox.base_url}")
assert folders() == before, "the sandbox's temporary database folder is removed"
try:
    httpx.get(f"{sandbox.base_url}/readyz", timeout=2)
except httpx.ConnectError:
    print("stopped and cleaned up")
else:
    raise AssertionError("the sandbox still answers after the with block")
