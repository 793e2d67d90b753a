"""The README's walkthrough runs as pasted, in order, and prints what the README shows (issue 12).

The blocks between `<!-- walkthrough: start -->` and `<!-- walkthrough: end -->` are run in one
bash process against a fresh `voke-esm serve`, the password typed at the README's prompt. A
paragraph of a block (lines up to a blank line or up to the `#>` lines after them) is one step:
where the README shows `#>` lines, the step must print that (`…` stands for anything); where it
shows none, the step must not print an error envelope.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.test_cli import Server, clean_env, start_server

README = Path(__file__).resolve().parent.parent / "README.md"
WALKTHROUGH = re.compile(r"<!-- walkthrough: start -->(.*?)<!-- walkthrough: end -->", re.S)
BLOCK = re.compile(r"(<!-- walkthrough: skip[^>]*-->\s*)?```sh\n(.*?)```", re.S)
PASSWORD = "readme-walkthrough-password"
STEP_END = "@@walkthrough step {}@@"
README_PORT = "4410"


@dataclass
class Step:
    code: str
    shows: str | None  # the `#>` lines after it, joined; None where the README shows nothing

    def matches(self, printed: str) -> bool:
        if self.shows is None:
            return '"statusCode"' not in printed
        pattern = ".*?".join(re.escape(part) for part in self.shows.split("…"))
        return re.fullmatch(pattern, flatten(printed), re.S) is not None


def flatten(text: str) -> str:
    """Lines joined without their surrounding blanks: a wrapped `#>` line compares as one."""
    return "".join(line.strip() for line in text.splitlines())


def block_steps(block: str) -> Iterator[Step]:
    """A block's paragraphs, each with the `#>` lines that follow it."""
    code: list[str] = []
    shown: list[str] = []
    for line in [*block.splitlines(), ""]:
        if line.startswith("#>"):
            shown.append(line[2:])
            continue
        if shown or not line.strip():
            if any(part.strip() for part in code):
                yield Step("\n".join(code), flatten("\n".join(shown)) if shown else None)
            code, shown = [], []
        code.append(line)


def walkthrough_steps(readme: str) -> list[Step]:
    found = WALKTHROUGH.search(readme)
    assert found, "README.md has no <!-- walkthrough: start --> … <!-- walkthrough: end -->"
    return [
        step
        for skipped, block in BLOCK.findall(found.group(1))
        if not skipped
        for step in block_steps(block)
    ]


def test_the_walkthrough_is_found_and_shows_outputs() -> None:
    steps = walkthrough_steps(README.read_text())
    assert len(steps) >= 15
    assert sum(step.shows is not None for step in steps) >= 12
    assert not any("<printed password>" in step.code for step in steps)


def test_steps_are_told_apart_by_blank_lines_and_shown_outputs() -> None:
    readme = (
        "<!-- walkthrough: start -->\n```sh\nA=1\nB=2\n\necho $A\n#> 1\necho $B\n#> …\n```\n"
        "<!-- walkthrough: skip (elsewhere) -->\n```sh\nexit 1\n```\n<!-- walkthrough: end -->"
    )
    steps = walkthrough_steps(readme)
    assert [(step.code.strip(), step.shows) for step in steps] == [
        ("A=1\nB=2", None),
        ("echo $A", "1"),
        ("echo $B", "…"),
    ]
    assert steps[1].matches("1\n")
    assert not steps[1].matches("12\n")
    assert steps[2].matches("anything\n")
    assert steps[0].matches("")
    assert not steps[0].matches('{"statusCode":404}')


@pytest.fixture(scope="module")
def fresh_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("workdir"),
        clean_env(VOKE_ADMIN_PASSWORD=PASSWORD),
        tmp_path_factory.mktemp("logs"),
    )
    try:
        yield server
    finally:
        server.stop()


def test_the_walkthrough_prints_what_the_readme_shows(
    fresh_service: Server, tmp_path: Path
) -> None:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    assert not missing, f"the README's walkthrough needs {', '.join(missing)} installed"
    steps = walkthrough_steps(README.read_text())
    port = str(fresh_service.port)
    script = "\n".join(
        f"{step.code}\nprintf '\\n{STEP_END.format(number)}\\n'"
        for number, step in enumerate(steps)
    ).replace(f":{README_PORT}", f":{port}")
    finished = subprocess.run(
        ["bash", "-c", script],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    printed = re.split(r"\n@@walkthrough step \d+@@\n", finished.stdout)
    assert len(printed) == len(steps) + 1, finished.stderr
    for step, output in zip(steps, printed, strict=False):
        expected = step.shows.replace(f":{README_PORT}", f":{port}") if step.shows else None
        if not Step(step.code, expected).matches(output):
            pytest.fail(
                f"this step of the README:\n{step.code}\nprinted:\n{output[:3000]}\n"
                f"but the README shows:\n{step.shows}\n(stderr: {finished.stderr})",
                pytrace=False,
            )
