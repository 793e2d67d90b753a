"""`voke-esm conformance`: run the selected checks against an ESM and say what was found
(CONTRACT §14): the expected duration first, a line per check as it runs, a summary, the
report files, and the exit status."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from urllib.parse import urlsplit

from limits import RateLimitItem, parse

from voke_esm.conformance.catalog import CHECKS, CheckSpec, planned_calls
from voke_esm.conformance.checks import (
    CheckError,
    CheckFailed,
    CheckSkipped,
    ConformanceRun,
    CredentialsRefused,
)
from voke_esm.conformance.probe import Probe
from voke_esm.conformance.report import REPORT_FILES, CheckResult, Masker, Outcome, Report
from voke_esm.voke.client.http import EsmError, EsmUnavailable

DEFAULT_RATE_LIMIT = "10/minute"  # the contract's own (CONTRACT §1, §14)
SECRET_VARIABLE = "VOKE_ESM_CLIENT_SECRET"


class ExitCode(IntEnum):
    PASSED = 0  # every MUST check that ran passed
    FAILED = 1  # a MUST check failed, or could not be judged
    USAGE = 2
    UNREACHABLE = 3  # the ESM cannot be reached, or refused the credentials
    NOTHING_RAN = 4


class UsageError(Exception):
    """A command line that cannot run; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Options:
    base_url: str
    client_id: str
    client_secret: str = field(repr=False)  # never in a log line or a traceback
    rate_limit: str = DEFAULT_RATE_LIMIT
    allow_writes: bool = False
    plant_id: str | None = None
    report_dir: Path | None = None
    only: tuple[str, ...] = ()
    overwrite: bool = False  # replace the reports of an earlier run in report_dir


def check_usage(options: Options) -> RateLimitItem:
    """The parsed rate limit of a usable command line (its report folder made, so that a run
    never ends without its reports); `UsageError` for any other."""
    if not options.client_secret:
        raise UsageError(f"set the client secret in {SECRET_VARIABLE} (never on the command line)")
    url = urlsplit(options.base_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise UsageError(f"--base-url {options.base_url!r} is not an http(s) URL")
    if options.allow_writes and not options.plant_id:
        raise UsageError("--allow-writes needs --plant-id: the plant whose blocks may change")
    try:
        rate_limit = parse(options.rate_limit)
    except ValueError:
        raise UsageError(
            f"--rate-limit {options.rate_limit!r} is not a rate limit such as '10/minute'"
        ) from None
    if options.report_dir is not None:
        try:
            options.report_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--report-dir {options.report_dir}: {exc.strerror}") from None
        earlier = [name for name in REPORT_FILES if (options.report_dir / name).exists()]
        if earlier and not options.overwrite:
            # A CI job that runs twice into one folder would keep only the last run's results.
            raise UsageError(
                f"--report-dir {options.report_dir} already holds {earlier[0]} of an earlier run:"
                " give another folder, or --overwrite to replace it"
            )
    return rate_limit


def select(patterns: Sequence[str]) -> list[CheckSpec]:
    """The checks whose IDs match any pattern (`DRY-*`; commas separate several); all without."""
    wanted = [p.strip().upper() for pattern in patterns for p in pattern.split(",") if p.strip()]
    if not patterns:
        return list(CHECKS)
    return [check for check in CHECKS if any(fnmatch.fnmatchcase(check.id, p) for p in wanted)]


def expected_duration(checks: list[CheckSpec], rate_limit: RateLimitItem, *, writes: bool) -> str:
    """How long pacing makes the run: over a moving window, call k of an endpoint may go at
    (k // amount) windows; the busiest endpoint decides."""
    calls = planned_calls(checks, writes=writes)
    if not calls:
        return "Expected duration: none (no call to make)"
    endpoint, count = max(calls.items(), key=lambda item: (item[1], item[0]))
    seconds = (count - 1) // rate_limit.amount * rate_limit.get_expiry()
    pace = f"{count} calls to {endpoint} at {rate_limit.amount} per {_span(rate_limit)}"
    when = "a few seconds" if seconds == 0 else f"about {_minutes(seconds)}"
    return f"Expected duration: {when} ({pace}; one more plant/config per further plant listed)"


def _span(rate_limit: RateLimitItem) -> str:
    multiple = rate_limit.multiples
    granularity = rate_limit.GRANULARITY.name
    return granularity if multiple == 1 else f"{multiple} {granularity}s"


def _minutes(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{seconds / 60:.0f} min"


class _Aborted(Exception):
    """The run cannot go on: the ESM is unreachable or refused the credentials."""


async def run(options: Options, echo: Callable[[str], None]) -> ExitCode:
    """Run the checks `options` select; `echo` prints a line. The exit status of §14."""
    try:
        rate_limit = check_usage(options)
    except UsageError as exc:
        echo(f"Usage error: {exc}")
        return ExitCode.USAGE
    selected = select(options.only)
    report = Report(target=options.base_url, started_at=datetime.now(UTC))
    masker = Masker(options.client_secret)
    started = time.monotonic()
    if not selected:
        echo(f"No check matches --only {' '.join(options.only)}: nothing to run.")
        return _finish(report, masker, options, started, echo, ExitCode.NOTHING_RAN)

    mode = "with writes to " + str(options.plant_id) if options.allow_writes else "read-only"
    echo(f"Checking {options.base_url} as {options.client_id} ({mode}): {len(selected)} checks")
    writes = options.allow_writes
    echo(
        expected_duration(
            [c for c in selected if writes or not c.writes], rate_limit, writes=writes
        )
    )
    probe = Probe(
        options.base_url,
        options.client_id,
        options.client_secret,
        rate_limit=rate_limit,
        masker=masker,
    )
    checks = ConformanceRun(
        probe,
        client_id=options.client_id,
        client_secret=options.client_secret,
        plant_id=options.plant_id,
        allow_writes=options.allow_writes,
    )
    aborted: str | None = None
    try:
        for spec in selected:
            if aborted is not None:
                result = CheckResult(spec, "skip", f"not run: {aborted}")
            else:
                try:
                    result = await _run_check(spec, checks, probe)
                except _Aborted as exc:
                    aborted = str(exc)
                    result = CheckResult(spec, "error", aborted, *_exchange(probe))
            report.results.append(result)
            echo(_line(result))
        if aborted is None:
            await _restore(checks, echo)
    finally:
        await probe.aclose()
    if aborted is not None:
        echo(f"Stopped: {aborted}.")
        return _finish(report, masker, options, started, echo, ExitCode.UNREACHABLE)
    return _finish(report, masker, options, started, echo, _verdict(report))


async def _run_check(spec: CheckSpec, checks: ConformanceRun, probe: Probe) -> CheckResult:
    probe.last = None
    outcome: Outcome
    try:
        message = await checks.checks[spec.id]()
        outcome = "pass"
    except CheckSkipped as exc:
        return CheckResult(spec, "skip", str(exc))
    except CheckFailed as exc:
        outcome, message = "fail", f"{exc} (§{spec.section}: {spec.contract})"
    except CredentialsRefused as exc:
        raise _Aborted(f"the ESM refused the client credentials: {exc}") from None
    except EsmUnavailable as exc:
        if probe.answered == 0:
            raise _Aborted(f"the ESM cannot be reached: {exc}") from None
        outcome, message = "error", f"could not be judged: {exc}"
    except (CheckError, EsmError) as exc:
        outcome, message = "error", f"could not be judged: {exc} (§{spec.section}: {spec.contract})"
    return CheckResult(spec, outcome, message, *_exchange(probe))


def _exchange(probe: Probe) -> tuple[dict[str, object] | None, dict[str, object] | None]:
    if probe.last is None:
        return None, None
    return probe.last.request, probe.last.response


async def _restore(checks: ConformanceRun, echo: Callable[[str], None]) -> None:
    try:
        restored = await checks.restore()
    except EsmError as exc:
        echo(f"Could not put the original blocks back: {exc}")
        return
    if restored is None:
        return
    if restored.result_code == "applied_ok":
        echo(f"Restored plant {restored.plant_id}'s original blocks as version {restored.version}.")
    else:
        echo(
            f"Putting plant {restored.plant_id}'s original blocks back answered"
            f" {restored.result_code}: restore them by hand."
        )


def _line(result: CheckResult) -> str:
    where = f"{result.id:<18}  {result.level:<6}  §{result.spec.section}"
    return f"{result.outcome.upper():5}  {where}  {result.message}"


def _verdict(report: Report) -> ExitCode:
    ran = [result for result in report.results if result.outcome != "skip"]
    if not ran:
        return ExitCode.NOTHING_RAN
    if any(r.level == "MUST" and r.outcome in ("fail", "error") for r in ran):
        return ExitCode.FAILED
    return ExitCode.PASSED


def _finish(
    report: Report,
    masker: Masker,
    options: Options,
    started: float,
    echo: Callable[[str], None],
    code: ExitCode,
) -> ExitCode:
    report.duration_s = time.monotonic() - started
    counts = report.summary()
    echo(
        f"Summary: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped,"
        f" {counts['error']} errors in {report.duration_s:.1f} s. {_VERDICTS[code]}"
    )
    if options.report_dir is not None:
        paths = report.write(options.report_dir, masker)
        echo(f"Reports: {', '.join(str(path) for path in paths)}")
    return code


_VERDICTS = {
    ExitCode.PASSED: "Every MUST check passed.",
    ExitCode.FAILED: "A MUST check did not pass.",
    ExitCode.UNREACHABLE: "The run could not go on.",
    ExitCode.NOTHING_RAN: "No check ran.",
    ExitCode.USAGE: "",
}
