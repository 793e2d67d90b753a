#!/usr/bin/env python3
"""Set up the checkout and run it: the README's two commands, on nothing but Python >= 3.11.

    python3 scripts/dev.py serve [voke-esm serve options]   set up, then start the service
    python3 scripts/dev.py test  [pytest options]           set up, then lint, type-check and test
                                                            (with the branch coverage floor)
    python3 scripts/dev.py setup                            only set up .venv/

Setup makes .venv/ in the checkout with the locked dependencies (uv.lock) and the `voke-esm`
command. Only the standard library is used here, so this runs before anything is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
UV_VERSION = "0.13.8"
PYTEST_NO_TESTS = 5


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*command: str | Path, env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(part) for part in command], cwd=ROOT, env=env)


def check(*command: str | Path, env: dict[str, str] | None = None) -> None:
    code = run(*command, env=env)
    if code != 0:
        sys.exit(code)


def uv_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        UV_PROJECT_ENVIRONMENT=str(VENV),
        UV_PYTHON=str(BIN / "python"),
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
    )
    return env


def uv_version() -> str | None:
    uv = BIN / "uv"
    if not uv.exists():
        return None
    result = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=False)
    return result.stdout.split()[1] if result.returncode == 0 and result.stdout else None


def setup() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        say(f"Creating the virtual environment in {VENV.relative_to(ROOT)}/")
        shutil.rmtree(VENV, ignore_errors=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if uv_version() != UV_VERSION:
        say(f"Installing uv {UV_VERSION} (the installer that reads uv.lock) into .venv/")
        check(
            BIN / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"uv=={UV_VERSION}",
        )
    say("Installing the locked dependencies and the voke-esm command (uv sync --frozen)")
    # Compiled ahead, once: where PYTHONDONTWRITEBYTECODE is set (as on CI machines), Python
    # would otherwise compile every module it imports from source on every start, which is
    # most of the service's start-up time.
    check(BIN / "uv", "sync", "--frozen", "--quiet", "--compile-bytecode", env=uv_env())
    check(BIN / "python", "-m", "compileall", "-q", ROOT / "src")


def serve(arguments: list[str]) -> None:
    setup()
    say("Starting the service: voke-esm serve " + " ".join(arguments))
    os.chdir(ROOT)
    os.execv(BIN / "voke-esm", [str(BIN / "voke-esm"), "serve", *arguments])


def test(arguments: list[str]) -> None:
    setup()
    sources = [name for name in ("src", "tests", "scripts", "bench") if (ROOT / name).is_dir()]
    say("Lint: ruff check and ruff format --check")
    check(BIN / "ruff", "check", *sources)
    check(BIN / "ruff", "format", "--check", "--quiet", *sources)
    say("Types: mypy --strict")
    check(BIN / "mypy")
    say("Boundaries: import-linter (Voke's side never imports the sandbox; the core no domain)")
    check(BIN / "lint-imports", "--no-cache", "--no-logo")
    say("Migrations: alembic check (the models and the migrations agree)")
    check(BIN / "python", "-m", "voke_esm.migrations.check")
    say(
        "Tests: pytest"
        + (
            " (CI=true: service tests must run, never skip)"
            if os.environ.get("CI") == "true"
            else ""
        )
    )
    # The whole suite measures branch coverage of voke_esm ([tool.coverage] in pyproject.toml)
    # and fails under its floor (`fail_under`). A subset run straight with .venv/bin/pytest
    # measures nothing and so has no floor; through here, add --cov-fail-under=0. The source is
    # named (as in [tool.coverage.run]) because a bare --cov would take a test path after it.
    code = run(BIN / "pytest", "--cov=voke_esm", *arguments)
    if code == PYTEST_NO_TESTS:
        say("pytest collected no tests: that is a failure, not a pass")
        sys.exit(1)
    sys.exit(code)


def main() -> None:
    command, *arguments = sys.argv[1:] or ["help"]
    if command == "setup":
        setup()
    elif command == "serve":
        serve(arguments)
    elif command == "test":
        test(arguments)
    else:
        print(__doc__)
        sys.exit(0 if command in {"help", "-h", "--help"} else 2)


if __name__ == "__main__":
    main()
