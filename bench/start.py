"""How fast a test suite gets a sandbox (issue 14): `EsmSandbox.start()` in the test process, and
the import time of the package, against `voke-esm serve` started as a subprocess.

    .venv/bin/python bench/start.py               # 5 rounds, medians; prints a Markdown table
    .venv/bin/python bench/start.py --rounds 9

Every figure is taken in a fresh Python process (nothing imported yet, as at the start of a test
session). Not part of the test suite. The figures in docs/PERFORMANCE.md came from this.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Each prints one JSON object of seconds.
IMPORT_PACKAGE = """
import json, time
t = time.perf_counter()
import voke_esm.testing.plugin  # what every pytest run in the environment loads
plugin = time.perf_counter() - t
t = time.perf_counter()
from voke_esm.testing import EsmSandbox  # the client side: httpx, no service
library = time.perf_counter() - t
t = time.perf_counter()
import voke_esm.app  # the service, imported by EsmSandbox.start()
service = time.perf_counter() - t
print(json.dumps({"plugin": plugin, "library": library, "service": service}))
"""
START_IN_PROCESS = """
import json, time
t = time.perf_counter()
from voke_esm.testing import EsmSandbox
sandbox = EsmSandbox.start()
started = time.perf_counter() - t
t = time.perf_counter()
org = sandbox.create_org()
org_s = time.perf_counter() - t
t = time.perf_counter()
sandbox.close()
closed = time.perf_counter() - t
print(json.dumps({"start": started, "org": org_s, "close": closed}))
"""


def _python(code: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_until_ready(var_dir: Path, env: dict[str, str]) -> float:
    port = _free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [BIN / "voke-esm", "serve", "--port", str(port)],
        env={**env, "VOKE_VAR_DIR": str(var_dir), "VOKE_ADMIN_PASSWORD": "bench-password"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError("voke-esm serve stopped before it was ready")
            time.sleep(0.005)
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    env = {key: value for key, value in os.environ.items() if not key.startswith("VOKE_")}
    samples: dict[str, list[float]] = {}

    def note(name: str, seconds: float) -> None:
        samples.setdefault(name, []).append(seconds)

    with tempfile.TemporaryDirectory(prefix="voke-esm-bench-start-") as folder:
        for index in range(rounds):
            for name, seconds in _python(IMPORT_PACKAGE, env).items():
                note(f"import {name}", seconds)
            # The first start on a machine migrates a template database; later ones copy it.
            cold = {**env, "TMPDIR": str(Path(folder) / f"cold-{index}")}
            Path(cold["TMPDIR"]).mkdir()
            note("start, first on the machine", _python(START_IN_PROCESS, cold)["start"])
            warm = _python(START_IN_PROCESS, env)
            for name, seconds in warm.items():
                note(name, seconds)
            var_dir = Path(folder) / f"serve-{index}"
            note("serve, first start", _serve_until_ready(var_dir, env))
            note("serve, later start", _serve_until_ready(var_dir, env))

    rows = [
        ("`import voke_esm.testing.plugin` (every pytest run)", "import plugin"),
        ("`from voke_esm.testing import EsmSandbox`", "import library"),
        ("`import voke_esm.app` (the service, inside `start()`)", "import service"),
        ("`EsmSandbox.start()`, import of the service included", "start"),
        ("`EsmSandbox.start()`, the first on the machine (template database made)",
         "start, first on the machine"),
        ("`create_org()` (org, enable, rate limit)", "org"),
        ("`close()` (stop, remove the database)", "close"),
        ("`voke-esm serve` subprocess to `/readyz` 200, first start", "serve, first start"),
        ("`voke-esm serve` subprocess to `/readyz` 200, later start", "serve, later start"),
    ]  # fmt: skip
    load = os.getloadavg()[0]
    print(f"{rounds} rounds, medians (min–max); load average at the end {load:.1f}\n")
    print("| what | median | range |\n| --- | ---: | ---: |")
    for title, key in rows:
        values = samples[key]
        print(
            f"| {title} | {statistics.median(values) * 1000:.0f} ms"
            f" | {min(values) * 1000:.0f}–{max(values) * 1000:.0f} ms |"
        )


if __name__ == "__main__":
    main()
