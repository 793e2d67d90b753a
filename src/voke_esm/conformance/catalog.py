"""The checks of CONTRACT §14: their IDs, levels, sections, the contract text each checks, and the
calls each sends (for the expected duration)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final, Literal

Level = Literal["MUST", "SHOULD"]

TOKEN: Final = "token"
LIST: Final = "plant/list"
CONFIG: Final = "plant/config"
UPDATE: Final = "plant/config/update"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    level: Level
    section: str
    contract: str  # what the contract says, quoted in a failure's report
    calls: dict[str, int] = field(default_factory=dict)  # endpoint → calls it sends
    writes: bool = False  # runs only with --allow-writes --plant-id

    @property
    def needs_token(self) -> bool:
        return any(endpoint != TOKEN for endpoint in self.calls)


def _rule(name: str, rule: str) -> CheckSpec:
    """The negative check of one §5 rule, sent with validateOnly: true."""
    text = f"{rule}. A schedule that breaks it → cfg_rejected, an error there, version unchanged."
    return CheckSpec(f"DRY-REJECT-{name}", "MUST", "5", text[:1].upper() + text[1:], {UPDATE: 1})


CHECKS: Final = (
    CheckSpec(
        "TOKEN-JSON",
        "MUST",
        "6",
        'POST token JSON {clientId, clientSecret} → {accessToken, tokenType: "Bearer", expiresIn}.',
        {TOKEN: 1},
    ),
    CheckSpec(
        "TOKEN-FORM",
        "SHOULD",
        "6",
        "The token endpoint also accepts the standard OAuth2 form (grant_type=client_credentials,"
        " credentials in HTTP Basic) and answers access_token, token_type, expires_in.",
        {TOKEN: 1},
    ),
    CheckSpec(
        "TOKEN-BAD-SECRET",
        "MUST",
        "2",
        "A token exchange with a wrong secret is 401 INVALID_CLIENT in the error envelope"
        " {code, details, error, message, statusCode}.",
        {TOKEN: 1},
    ),
    CheckSpec(
        "AUTH-MISSING",
        "MUST",
        "2",
        "A trading call without a token is 401 UNAUTHORIZED (never 403) in the error envelope.",
        {CONFIG: 1},
    ),
    CheckSpec(
        "AUTH-GARBAGE",
        "MUST",
        "2",
        "A trading call with a malformed or wrongly signed token is 401 UNAUTHORIZED (never 403)"
        " in the error envelope.",
        {CONFIG: 2},
    ),
    CheckSpec(
        "LIST-SHAPE",
        "MUST",
        "6",
        "GET plant/list → a JSON array of {plantId, name, descr, fvePeakPowerKwp, capacityKwh,"
        " esiState, configEnabled, plantWithLoad, meters: []}.",
        {LIST: 1},
    ),
    CheckSpec(
        "LIST-UNIQUE",
        "MUST",
        "6",
        "plant/list names each plant once: its plantIds are unique.",
        {LIST: 1},  # the same answer as LIST-SHAPE's
    ),
    CheckSpec(
        "CONFIG-SHAPE",
        "MUST",
        "6",
        "GET plant/config?plantId= → {plantId, version, configEnabled, esiState, timeConfigs},"
        " version at least 1, every block {from, to, pBatMax, pBatMin, socMax, socMin}.",
        {CONFIG: 1},  # one per listed plant
    ),
    CheckSpec(
        "CONFIG-UNKNOWN",
        "MUST",
        "6",
        "plant/config of a plant the client does not have is 404 NOT_FOUND in the error envelope.",
        {CONFIG: 1},
    ),
    CheckSpec(
        "DRY-ACCEPTED",
        "MUST",
        "6",
        'A valid schedule with validateOnly: true → resultCode "cfg_accepted", nothing stored:'
        " the version unchanged on a re-read.",
        {CONFIG: 2, UPDATE: 1},
    ),
    _rule("TIME", "from and to are HH:MM between 00:00 and 23:59"),
    _rule("ORDER", "from < to, reported at to"),
    _rule("SIGN", "pBatMax ≥ 0 and pBatMin ≤ 0, reported at that power"),
    _rule("SOC", "0 ≤ socMin ≤ socMax ≤ 100, socMin > socMax reported at socMin"),
    _rule("OVERLAP", "blocks may share a boundary minute, no more; reported at the later from"),
    _rule("COUNT", "at most 96 blocks, reported at timeConfigs"),
    CheckSpec(
        "SHAPE-400",
        "MUST",
        "6",
        "A config update body of the wrong shape (missing plantId, wrong types) is a 400"
        " VALIDATION_ERROR in the error envelope.",
        {UPDATE: 1},
    ),
    CheckSpec(
        "IDEMPOTENT-REPLAY",
        "MUST",
        "6",
        "The same configUpdateReqCode sent again for the same plant returns the first answer,"
        " whatever it was, and changes nothing.",
        {UPDATE: 2},
    ),
    CheckSpec(
        "WRITE-APPLIED",
        "MUST",
        "6",
        'A valid schedule with validateOnly: false → "applied_ok", version + 1, and plant/config'
        " reads back the blocks in the order given.",
        {CONFIG: 2, UPDATE: 1},
        writes=True,
    ),
    CheckSpec(
        "WRITE-CONCURRENT",
        "MUST",
        "6",
        "Concurrent updates to one plant never lose one: each applied update gets its own version.",
        {CONFIG: 2, UPDATE: 2},
        writes=True,
    ),
)
CHECKS_BY_ID: Final = {check.id: check for check in CHECKS}


def planned_calls(checks: list[CheckSpec], *, writes: bool) -> Counter[str]:
    """The calls a run of `checks` sends, by endpoint, counting one listed plant."""
    calls: Counter[str] = Counter()
    for check in checks:
        calls.update(check.calls)
    if any(check.needs_token for check in checks):
        calls[TOKEN] += 1  # the bearer token the checks share
        calls[LIST] = 1  # one plant/list read, shared
        calls[CONFIG] += 1  # the plant the updates use is read first
    if writes and any(check.writes for check in checks):
        calls.update({UPDATE: 1, CONFIG: 1})  # its original blocks put back, and read back
    return calls
