"""The package as its users get it (CONTRACT §13, issue 14): `uv build` gives a wheel that pip
installs into a fresh virtual environment, with the `voke-esm` command, the static files, the
migrations and the pytest plugin; a user's suite passes there, on one worker and on two.

Slow (a wheel, a virtual environment, a pip install): marked `wheel`, so that
`pytest -m "not wheel"` leaves it out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
USER_SUITE = Path(__file__).parent / "user_suite"
README_EXAMPLE = USER_SUITE / "test_esm_client.py"
# What the parent run sets that a user's fresh run must not inherit (a sandbox URL, admin
# credentials, coverage hooks, this project on the import path).
_NOT_INHERITED = re.compile(
    r"^(VOKE_.*|DATABASE_URL|AMQP_URL|PYTHONPATH|VIRTUAL_ENV|PYTEST_.*|COV_CORE_.*|COVERAGE_.*)$"
)


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not _NOT_INHERITED.match(key)}
    return {**env, **extra}


def _run(*command: str | Path, cwd: Path, timeout: float = 300, **env: str) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{output[-6000:]}"
    return output


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel, pytest and pytest-xdist, installed by pip
    with the machine's own pip configuration (its index or mirror) and the new wheel."""
    folder = tmp_path_factory.mktemp("wheel")
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv, which builds the wheel, is in the project's virtual environment"
    _run(uv, "build", "--wheel", "--out-dir", folder / "dist", cwd=ROOT)
    wheels = list((folder / "dist").glob("voke_esm-*.whl"))
    assert [wheel.name for wheel in wheels] == [f"voke_esm-{_version()}-py3-none-any.whl"]
    _run(sys.executable, "-m", "venv", folder / "venv", cwd=folder)
    python = folder / "venv" / "bin" / "python"
    _run(
        python, "-m", "pip", "install", "--quiet", "--find-links", folder / "dist",
        wheels[0], f"pytest=={pytest.__version__}", "pytest-xdist",
        cwd=folder, timeout=900,
    )  # fmt: skip
    return folder / "venv"


@pytest.fixture
def user_project(tmp_path: Path) -> Path:
    """A user's project: their tests, nothing of this repository."""
    tests = tmp_path / "project" / "tests"
    tests.mkdir(parents=True)
    for name in ("test_esm_client.py", "test_sandbox_tools.py", "start_outside_pytest.py"):
        shutil.copy(USER_SUITE / name, tests / name)
    return tmp_path / "project"


def test_the_readme_shows_the_example_that_the_wheel_test_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"```python\n{README_EXAMPLE.read_text()}```" in readme


@pytest.mark.wheel
class TestInstalledWheel:
    def test_it_brings_the_command_static_files_migrations_and_plugin(
        self, user_venv: Path, user_project: Path
    ) -> None:
        bin_dir = user_venv / "bin"
        version = _run(bin_dir / "voke-esm", "--version", cwd=user_project)
        shown = _run(
            bin_dir / "python",
            "-c",
            "import voke_esm, pathlib; home = pathlib.Path(voke_esm.__file__).parent;"
            " print(home);"
            " print(sorted(p.name for p in (home / 'migrations' / 'versions').glob('*.py')));"
            " print((home / 'ui/static/index.html').is_file(), (home / 'py.typed').is_file())",
            cwd=user_project,
        ).splitlines()
        plugins = _run(
            bin_dir / "python",
            "-c",
            "from importlib.metadata import entry_points;"
            " print([e.value for e in entry_points(group='pytest11') if e.name == 'voke_esm'])",
            cwd=user_project,
        )

        assert version.strip() == f"voke-esm {_version()}"
        assert shown[0].startswith(str(user_venv))  # the installed copy, not this checkout
        assert shown[1] == str(
            sorted(p.name for p in (ROOT / "src/voke_esm/migrations/versions").glob("*.py"))
        )
        assert shown[2] == "True True"
        assert plugins.strip() == "['voke_esm.testing.plugin']"

    def test_a_users_suite_passes_with_the_fixtures(
        self, user_venv: Path, user_project: Path
    ) -> None:
        output = _run(
            user_venv / "bin" / "pytest", "-p", "no:cacheprovider", "-q", "tests", cwd=user_project
        )
        assert re.search(r"\b11 passed\b", output), output

    def test_two_xdist_workers_each_get_their_own_sandbox(
        self, user_venv: Path, user_project: Path
    ) -> None:
        record = user_project / "sandboxes"
        record.mkdir()
        output = _run(
            user_venv / "bin" / "pytest", "-p", "no:cacheprovider", "-q", "-n", "2",
            "tests/test_sandbox_tools.py", "-k", "own_calls",
            cwd=user_project, ESM_SANDBOX_RECORD_DIR=str(record),
        )  # fmt: skip
        urls = {path.stem: path.read_text() for path in record.iterdir()}

        assert re.search(r"\b4 passed\b", output), output
        assert sorted(urls) == ["gw0", "gw1"]
        assert urls["gw0"] != urls["gw1"]

    def test_esm_sandbox_starts_outside_pytest(self, user_venv: Path, user_project: Path) -> None:
        output = _run(
            user_venv / "bin" / "python", "tests/start_outside_pytest.py", cwd=user_project
        )
        assert output.splitlines()[-1] == "stopped and cleaned up"
