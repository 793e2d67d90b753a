"""Benchmark of the simulated site (CONTRACT §12): its cost must not grow with how far the clock has
gone. Prints, side by side, a snapshot an hour and a year after the clock start (cold: nothing
cached; warm: the day starts cached), and a 31-day timeseries at 15-minute steps.

    .venv/bin/python bench/model.py [--repeat N]

Times are the best of N runs (default 5), in milliseconds; the machine's load average is printed
beside them, since other work on the machine slows every figure.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from voke_esm.sandbox.model import Plant, clear_caches, state_at, timeseries

PLANT = Plant(fve_peak_power_kwp=8.0, capacity_kwh=10.0)
BLOCKS = [
    {"from": "00:00", "to": "07:00", "pBatMax": 3, "pBatMin": -3, "socMax": 90, "socMin": 20},
    {"from": "07:00", "to": "23:59", "pBatMax": 5, "pBatMin": -5, "socMax": 95, "socMin": 10},
]
CONDITIONS = [
    {"kind": "cloud", "from": "2026-03-10T08:00:00Z", "to": "2026-03-12T18:00:00Z", "factor": 0.3},
    {"kind": "gridOutage", "from": "2026-05-02T18:00:00Z", "to": "2026-05-03T06:30:00Z"},
]
CLOCK = datetime(2026, 3, 1, 8, 30, 12, tzinfo=UTC)


def best_ms(run: Callable[[], object], repeat: int, *, cold: bool) -> float:
    times = []
    for _ in range(repeat):
        if cold:
            clear_caches()
        else:
            run()  # warm the caches first
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat

    def snapshot(after: timedelta) -> Callable[[], object]:
        return lambda: state_at(PLANT, BLOCKS, CONDITIONS, CLOCK, CLOCK + after)

    def month(offset: timedelta) -> Callable[[], object]:
        start = CLOCK + offset
        return lambda: timeseries(
            PLANT, BLOCKS, CONDITIONS, CLOCK, start, start + timedelta(days=31), 15
        )

    rows = [
        ("snapshot", snapshot(timedelta(hours=1)), snapshot(timedelta(days=365))),
        ("31-day timeseries, 15 min", month(timedelta(0)), month(timedelta(days=334))),
    ]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; best of {repeat}, ms")
    print(f"{'':34}{'+1 hour':>12}{'+365 days':>12}   (cold: no cache / warm: cached)")
    for name, near, far in rows:
        for cold in (True, False):
            label = f"{name} ({'cold' if cold else 'warm'})"
            print(
                f"{label:34}{best_ms(near, repeat, cold=cold):>12.2f}"
                f"{best_ms(far, repeat, cold=cold):>12.2f}"
            )


if __name__ == "__main__":
    main()
