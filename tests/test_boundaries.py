"""The boundary between the sandbox and Voke's side (README, Development).

import-linter's contracts in pyproject.toml hold on this tree, and break, naming the contract and
the import, when a copy of the tree gains an import across a line.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

VOKE_NOT_SANDBOX = "Voke's side never imports the sandbox (it reaches it over HTTP only)"
CORE_NO_DOMAIN = "The core imports no domain"
CONTRACT_STANDALONE = "The partner contract's shared rules import nothing of the app"
MODEL_PURE = "The simulated site is pure: the standard library only"


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """import-linter with this repository's contracts, on the voke_esm package under `src`."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(REPO / "pyproject.toml")],
        # The package is found on the path: PYTHONPATH comes before the editable install's.
        env={**os.environ, "PYTHONPATH": str(src)},
        cwd=src,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(SRC)

    assert result.returncode == 0, result.stdout + result.stderr
    for contract in (VOKE_NOT_SANDBOX, CORE_NO_DOMAIN, CONTRACT_STANDALONE, MODEL_PURE):
        assert f"{contract} KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "imported", "contract"),
    [
        ("voke.plants.service", "voke_esm.sandbox.trading.router", VOKE_NOT_SANDBOX),
        ("voke.client.http", "voke_esm.sandbox.repositories.plants", VOKE_NOT_SANDBOX),
        ("core.errors", "voke_esm.voke.orgs.service", CORE_NO_DOMAIN),
        ("contract.time_configs", "voke_esm.core.schemas", CONTRACT_STANDALONE),
        ("sandbox.model.site", "pydantic", MODEL_PURE),
    ],
    ids=["voke-plants", "voke-client", "core", "contract", "model"],
)
def test_an_import_across_a_line_breaks_the_check(
    tmp_path: Path, module: str, imported: str, contract: str
) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        SRC / "voke_esm",
        src / "voke_esm",
        ignore=shutil.ignore_patterns("__pycache__", "static", "docs"),
    )
    path = src / "voke_esm" / (module.replace(".", "/") + ".py")
    with path.open("a", encoding="utf-8") as file:
        file.write(f"\nimport {imported}  # noqa: E402\n")

    result = lint_imports(src)

    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout
    assert f"voke_esm.{module} -> {imported}" in result.stdout


def test_the_simulated_site_imports_the_standard_library_only() -> None:
    """What the model contract cannot list: any third-party package, installed now or later."""
    package = SRC / "voke_esm" / "sandbox" / "model"
    outside: list[str] = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            outside += [
                f"{path.name}: {name}"
                for name in names
                if name.split(".")[0] not in sys.stdlib_module_names
                and name != "__future__"
                and not name.startswith("voke_esm.sandbox.model")
            ]

    assert outside == []
