"""The checks' own parts that need no ESM: §5's negative cases, check selection, masking."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from voke_esm.conformance.catalog import CHECKS_BY_ID
from voke_esm.conformance.checks import NEGATIVE_CASES, PROBE_SCHEDULE, WRITE_SCHEDULE
from voke_esm.conformance.report import CheckResult, Masker, Report
from voke_esm.conformance.runner import Options, select
from voke_esm.contract.time_configs import RULES, check_time_configs, rule_of


def test_the_probe_schedules_are_valid() -> None:
    assert check_time_configs(PROBE_SCHEDULE) == []
    assert check_time_configs(WRITE_SCHEDULE) == []


def test_there_is_a_case_for_every_rule() -> None:
    assert sorted(NEGATIVE_CASES) == sorted(RULES)


@pytest.mark.parametrize("rule", RULES)
def test_each_case_breaks_its_rule_and_no_other(rule: str) -> None:
    errors = check_time_configs(NEGATIVE_CASES[rule])

    assert errors
    assert {rule_of(error) for error in errors} == {rule}


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (("TOKEN-JSON",), ["TOKEN-JSON"]),
        (("dry-reject-s*",), ["DRY-REJECT-SIGN", "DRY-REJECT-SOC"]),
        (("LIST-SHAPE,CONFIG-UNKNOWN",), ["LIST-SHAPE", "CONFIG-UNKNOWN"]),
        (("NOPE",), []),
    ],
)
def test_selection(patterns: tuple[str, ...], expected: list[str]) -> None:
    assert [check.id for check in select(patterns)] == expected


def test_masking() -> None:
    masker = Masker("the-secret")
    masker.add("a.token.value")

    masked = masker.value(
        {
            "clientSecret": "anything",
            "message": "echoed the-secret and a.token.value",
            "list": [{"access_token": "x"}],
        }
    )
    headers = masker.headers([("Authorization", "Bearer a.token.value"), ("X", "the-secret")])

    assert masked == {
        "clientSecret": "***",
        "message": "echoed *** and ***",
        "list": [{"access_token": "***"}],
    }
    assert headers == {"Authorization": "Bearer ***", "X": "***"}


def test_the_reports_escape_what_the_esm_answered(tmp_path: Path) -> None:
    hostile = '<script>alert("x")</script> & "quotes"'
    report = Report(target="http://127.0.0.1:1/<esm>", started_at=datetime.now(UTC))
    report.results.append(
        CheckResult(
            CHECKS_BY_ID["LIST-SHAPE"],
            "fail",
            hostile,
            {"method": "GET", "url": "http://127.0.0.1:1/", "headers": {}, "body": None},
            {"status": 200, "headers": {}, "body": hostile},
        )
    )

    report.write(tmp_path, Masker("secret"))

    html = (tmp_path / "conformance.html").read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in html
    root = ET.parse(tmp_path / "conformance.junit.xml").getroot()
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == hostile


def test_the_options_never_show_the_secret() -> None:
    options = Options(base_url="http://127.0.0.1:1", client_id="vesm-x", client_secret="s3cret")

    assert "s3cret" not in repr(options)
