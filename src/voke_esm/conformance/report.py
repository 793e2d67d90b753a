"""What a conformance run found, and its three report files (CONTRACT §14).

Every request and answer in a report passes `Masker` first: the client secret, every token the
ESM issued or the run made up, and the values of credential fields and headers become `***`.
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from voke_esm.conformance.catalog import CheckSpec, Level

Outcome = Literal["pass", "fail", "skip", "error"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("pass", "fail", "skip", "error")
MASK: Final = "***"
_SECRET_KEYS: Final = {"clientSecret", "client_secret", "accessToken", "access_token", "password"}
_SECRET_HEADERS: Final = {"authorization", "proxy-authorization", "cookie", "set-cookie"}


# The names §14 gives the reports: fixed, so a second run into one folder would replace the first.
REPORT_FILES = ("conformance.json", "conformance.junit.xml", "conformance.html")


class Masker:
    """Replaces secrets and tokens wherever they appear in a JSON-like value."""

    def __init__(self, *secrets: str) -> None:
        self._secrets: set[str] = {secret for secret in secrets if secret}

    def add(self, secret: object) -> None:
        if isinstance(secret, str) and len(secret) >= 4:
            self._secrets.add(secret)

    def text(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):  # a token holding another
            text = text.replace(secret, MASK)
        return text

    def mapping(self, value: dict[str, Any]) -> dict[str, Any]:
        masked: dict[str, Any] = self.value(value)
        return masked

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                key: MASK if key in _SECRET_KEYS and value[key] else self.value(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        shown: dict[str, str] = {}
        for name, value in headers:
            if name.lower() in _SECRET_HEADERS:
                scheme = value.split(" ", 1)[0] if " " in value else ""
                value = f"{scheme} {MASK}".strip()
            shown[name] = self.text(value)
        return shown


@dataclass
class CheckResult:
    spec: CheckSpec
    outcome: Outcome
    message: str
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def level(self) -> Level:
        return self.spec.level

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "level": self.spec.level,
            "section": self.spec.section,
            "outcome": self.outcome,
            "message": self.message,
            "request": self.request,
            "response": self.response,
        }


@dataclass
class Report:
    target: str
    started_at: datetime
    duration_s: float = 0.0
    results: list[CheckResult] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        counts = Counter(result.outcome for result in self.results)
        return {outcome: counts[outcome] for outcome in OUTCOMES}

    def as_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "startedAt": self.started_at.isoformat().replace("+00:00", "Z"),
            "durationS": round(self.duration_s, 3),
            "summary": self.summary(),
            "checks": [result.as_json() for result in self.results],
        }

    def write(self, folder: Path, masker: Masker) -> list[Path]:
        """conformance.json, conformance.junit.xml and conformance.html in `folder`, masked
        once more as a whole (a secret the ESM echoed inside a longer text included)."""
        folder.mkdir(parents=True, exist_ok=True)
        document = masker.value(self.as_json())
        files = dict(
            zip(
                REPORT_FILES,
                (
                    json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                    _junit(document),
                    _html(document),
                ),
                strict=True,
            )
        )
        written = []
        for name, text in files.items():
            path = folder / name
            path.write_text(masker.text(text), encoding="utf-8")
            written.append(path)
        return written


def _exchange_text(check: dict[str, Any]) -> str:
    parts = []
    for key in ("request", "response"):
        if check[key] is not None:
            parts.append(f"{key}: {json.dumps(check[key], indent=2, ensure_ascii=False)}")
    return "\n".join(parts)


def _junit(document: dict[str, Any]) -> str:
    summary = document["summary"]
    suite = ET.Element(
        "testsuite",
        name="voke-esm conformance",
        tests=str(len(document["checks"])),
        failures=str(summary["fail"]),
        errors=str(summary["error"]),
        skipped=str(summary["skip"]),
        time=str(document["durationS"]),
        timestamp=document["startedAt"],
    )
    ET.SubElement(
        ET.SubElement(suite, "properties"), "property", name="target", value=document["target"]
    )
    for check in document["checks"]:
        case = ET.SubElement(
            suite, "testcase", name=check["id"], classname=f"conformance.{check['level']}"
        )
        outcome = check["outcome"]
        if outcome == "skip":
            ET.SubElement(case, "skipped", message=check["message"])
        elif outcome in ("fail", "error"):
            element = ET.SubElement(
                case, "failure" if outcome == "fail" else "error", message=check["message"]
            )
            element.text = _exchange_text(check)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return str(ET.tostring(root, encoding="unicode", xml_declaration=True)) + "\n"


_ORDER: Final = {"fail": 0, "error": 1, "skip": 2, "pass": 3}


def _html(document: dict[str, Any]) -> str:
    """One page, failures first; every text escaped."""
    e = html.escape
    summary = document["summary"]
    rows = []
    checks = sorted(document["checks"], key=lambda check: _ORDER[check["outcome"]])
    for check in checks:
        exchange = _exchange_text(check)
        detail = f"<details><summary>request and answer</summary><pre>{e(exchange)}</pre></details>"
        rows.append(
            f'<tr class="{e(check["outcome"])}"><td>{e(check["outcome"])}</td>'
            f"<td>{e(check['id'])}</td><td>{e(check['level'])}</td><td>§{e(check['section'])}</td>"
            f"<td>{e(check['message'])}{detail if exchange else ''}</td></tr>"
        )
    counts = ", ".join(f"{summary[outcome]} {outcome}" for outcome in OUTCOMES)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Conformance of {e(document["target"])}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4em; text-align: left; vertical-align: top; }}
tr.fail td:first-child, tr.error td:first-child {{ color: #b00020; font-weight: bold; }}
tr.pass td:first-child {{ color: #1b5e20; }}
td:nth-child(2) {{ white-space: nowrap; }}
pre {{ white-space: pre-wrap; background: #f6f6f6; padding: .5em; }}
</style></head><body>
<h1>Conformance of {e(document["target"])}</h1>
<p>Started {e(document["startedAt"])}, took {e(str(document["durationS"]))} s: {e(counts)}.</p>
<table><thead><tr><th>outcome</th><th>check</th><th>level</th><th>section</th>
<th>what was found</th></tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
