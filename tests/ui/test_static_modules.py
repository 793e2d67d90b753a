"""The admin page's ES modules (CONTRACT §10: no build step, no CDN) form one graph from app.js.

Read from the files, no browser: every module on disk is imported from the entry (a module that
nothing imports is dead code and fails here), every import is a file of this directory, the
graph has no cycle (modules pass callbacks rather than import each other back), and no module
puts anything on `window`. A vendored library (static/vendor/NAME/, with its licence) is imported
by its path and taken as it was published: it is a leaf of the graph, held to none of these
rules. tests/ui/test_admin_page.py loads the same files in Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "src" / "voke_esm" / "ui" / "static"
ENTRY = "app.js"
PAGE_SCRIPT = '<script type="module" src="/platform/voke-esm/static/app.js"></script>'

# `import {a, b} from "./x.js"`, `import "./x.js"`, `export {a} from "./x.js"`, at a line's start.
_STATIC_IMPORT = re.compile(
    r"^(?:import|export)\s+(?:[\w\s{},*$]+?\s+from\s+)?[\"']([^\"']+)[\"']\s*;", re.M
)
_IMPORT_LINE = re.compile(r"^import\b", re.M)
_LOCAL_MODULE = re.compile(r"^\./[a-z][a-z0-9-]*\.js$")
_VENDORED_MODULE = re.compile(r"^\./vendor/[a-z0-9-]+/[\w.-]+\.js$")


def _modules_on_disk() -> set[str]:
    return {path.name for path in STATIC.glob("*.js")}


def _imports(name: str) -> list[str]:
    source = (STATIC / name).read_text(encoding="utf-8")
    specifiers = _STATIC_IMPORT.findall(source)
    # Every import statement is one the pattern reads, and none is dynamic: the graph below
    # is the whole graph the browser loads.
    assert len(_IMPORT_LINE.findall(source)) == sum(
        1 for match in _STATIC_IMPORT.finditer(source) if match.group(0).startswith("import")
    ), f"{name}: an import statement this test cannot read"
    assert not re.search(r"\bimport\s*\(", source), f"{name}: a dynamic import()"
    local = []
    for specifier in specifiers:
        if _VENDORED_MODULE.match(specifier):
            vendored = STATIC / specifier
            assert vendored.is_file(), f"{name} imports {specifier!r}: missing"
            assert (vendored.parent / "LICENSE").is_file(), f"{specifier}: no LICENSE beside it"
            continue
        assert _LOCAL_MODULE.match(specifier), f"{name} imports {specifier!r}: not a local file"
        local.append(specifier.removeprefix("./"))
    return local


def _graph() -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    pending = [ENTRY]
    while pending:
        name = pending.pop()
        if name in graph:
            continue
        assert (STATIC / name).is_file(), f"{name} is imported but missing"
        graph[name] = _imports(name)
        pending.extend(graph[name])
    return graph


def test_the_page_loads_app_js_as_its_only_script() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script\b[^>]*>", html) == [PAGE_SCRIPT.removesuffix("</script>")]


def test_every_module_on_disk_is_imported_from_app_js() -> None:
    reached = set(_graph())
    assert reached == _modules_on_disk(), (
        f"not imported from {ENTRY}: {sorted(_modules_on_disk() - reached)}"
    )


def test_the_module_graph_has_no_cycle() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, "import cycle: " + " -> ".join((*path, name))
        if name in done:
            return
        for imported in graph[name]:
            visit(imported, (*path, name))
        done.add(name)

    visit(ENTRY, ())


def test_no_module_puts_anything_on_window() -> None:
    for name in sorted(_modules_on_disk()):
        source = (STATIC / name).read_text(encoding="utf-8")
        assert not re.search(r"\b(?:window|globalThis|self)\s*(?:\.|\[)", source), name
        # Each module says what it holds.
        assert source.startswith("// "), f"{name}: no header comment"
