"""Test an ESM client against the Voke ESM sandbox (CONTRACT §13).

    from voke_esm.testing import EsmSandbox

    with EsmSandbox.start() as sandbox:
        org = sandbox.create_org()
        ...

In pytest, the `esm_sandbox` and `esm_org` fixtures of the plugin this package registers do the
same. Importing this package is cheap: the service itself is imported only when a sandbox
starts in this process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voke_esm.testing._wire import HIGH_RATE_LIMIT, SandboxError
    from voke_esm.testing.org import JournalEntry, SandboxOrg
    from voke_esm.testing.sandbox import EsmSandbox

__all__ = ["HIGH_RATE_LIMIT", "EsmSandbox", "JournalEntry", "SandboxError", "SandboxOrg"]

_HOMES = {
    "EsmSandbox": "voke_esm.testing.sandbox",
    "SandboxOrg": "voke_esm.testing.org",
    "JournalEntry": "voke_esm.testing.org",
    "SandboxError": "voke_esm.testing._wire",
    "HIGH_RATE_LIMIT": "voke_esm.testing._wire",
}


def __getattr__(name: str) -> Any:
    # Loaded on first use, so that the pytest plugin (a module of this package, loaded by every
    # pytest run in an environment that has the package) costs nothing to a suite that never
    # uses it: not even httpx is imported until then.
    if name in _HOMES:
        import importlib

        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
