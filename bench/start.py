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
# Each prints one JSON object: wall-clock seconds, and "cpu ..." the process's CPU seconds (every
# thread's), which a busy machine inflates far less than wall-clock time.
IMPORT_PACKAGE = """
import json, time
import pytest  # loaded already in any pytest run: not the plugin's cost
def clock():
    return time.perf_counter(), time.process_time()
def since(start):
    return time.perf_counter() - start[0], time.process_time() - start[1]
out = {}
t = clock()
import voke_esm.testing.plugin  # what every pytest run in the environment loads
out["plugin"], out["cpu plugin"] = since(t)
t = clock()
from voke_esm.testing import EsmSandbox  # the client side: httpx, no service
out["library"], out["cpu library"] = since(t)
t = clock()
import voke_esm.app  # the service, imported by EsmSandbox.start()
out["service"], out["cpu service"] = since(t)
print(json.dumps(out))
"""
START_IN_PROCESS = """
import json, time
def clock():
    return time.perf_counter(), time.process_time()
def since(start):
    return time.perf_counter() - start[0], time.process_time() - start[1]
out = {}
t = clock()
from voke_esm.testing import EsmSandbox
sandbox = EsmSandbox.start()
out["start"], out["cpu start"] = since(t)
t = clock()
org = sandbox.create_org()
out["org"], out["cpu org"] = since(t)
t = clock()
sandbox.close()
out["close"], out["cpu close"] = since(t)
print(json.dumps(out))
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve_until_ready(var_dir: Path, env: dict[str, str]) -> tuple[float, float]:
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
                    return time.perf_counter() - started, _cpu_seconds(process.pid)
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
                cpu, _, what = name.rpartition(" ")
                note(f"{cpu} import {what}".strip(), seconds)
            # The first start on a machine migrates a template database; later ones copy it.
            cold = {**env, "TMPDIR": str(Path(folder) / f"cold-{index}")}
            Path(cold["TMPDIR"]).mkdir()
            first = _python(START_IN_PROCESS, cold)
            note("start, first on the machine", first["start"])
            note("cpu start, first on the machine", first["cpu start"])
            warm = _python(START_IN_PROCESS, env)
            for name, seconds in warm.items():
                note(name, seconds)
            var_dir = Path(folder) / f"serve-{index}"
            for name in ("serve, first start", "serve, later start"):
                wall, cpu = _serve_until_ready(var_dir, env)
                note(name, wall)
                note(f"cpu {name}", cpu)

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
    print(f"{rounds} rounds, medians; load average at the end {load:.1f}\n")
    print("| what | wall-clock | its CPU time |\n| --- | ---: | ---: |")
    for title, key in rows:
        wall, cpu = statistics.median(samples[key]), statistics.median(samples[f"cpu {key}"])
        print(f"| {title} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
