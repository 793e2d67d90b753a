"""Fault rules at run time (CONTRACT §11): which fire on a trading call, and what firing does.

The rules of an org are stored as JSON on its `SandboxOrgState`, each
`{endpoint, kind, status, latencyMs, jitterMs, probability, count}`. On a call, every unspent rule
for the endpoint (or `*`) draws against its probability, in the order given: each `latency` rule
that fires adds its wait, and the first `error` or `drop` that fires ends the draw. A rule that
fires uses one of its `count`; at 0 it is spent.
"""

from __future__ import annotations

import asyncio
import functools
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.core.errors import AppError
from voke_esm.sandbox.models import FaultRuleJson
from voke_esm.sandbox.repositories import org_states as org_states_repository

TERMINAL_KINDS = frozenset({"error", "drop"})


class InjectedFault(AppError):
    """The answer of an `error` rule: the §2 envelope at the rule's status."""

    code, status, default_message = "INJECTED_FAULT", 500, "Injected fault"

    def envelope(self) -> dict[str, Any]:
        # Any status 400..599 may be asked for; not all of them have a standard reason phrase.
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Client Error" if self.status < 500 else "Server Error"
        return {
            "code": self.code,
            "details": self.details,
            "error": phrase,
            "message": self.message,
            "statusCode": self.status,
        }

    @classmethod
    def example(cls) -> AppError:
        return injected_fault(0, "plant/list", cls.status)


@functools.cache
def injected_fault_at(status: int) -> type[InjectedFault]:
    """The InjectedFault class pinned to `status` (an AppError's status is its class's)."""
    pinned = type(f"InjectedFault{status}", (InjectedFault,), {"status": status})
    return cast(type[InjectedFault], pinned)


def injected_fault(index: int, endpoint: str, status: int) -> InjectedFault:
    """What an `error` rule answers: rule `index` fired on a call of `endpoint`."""
    return injected_fault_at(status)(
        f"Injected fault: rule {index} answers {endpoint} with {status}", details={"rule": index}
    )


class ConnectionDropped(Exception):
    """A `drop` rule fired: the trading gate closes the connection without an answer."""


@dataclass(frozen=True, slots=True)
class FiredRule:
    index: int
    endpoint: str
    kind: str
    status: int | None = None
    wait_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Draw:
    fired: list[FiredRule]
    rules: list[FaultRuleJson]  # the rules after this draw: counts used up
    counts_changed: bool


def applies(rule: Mapping[str, Any], endpoint: str) -> bool:
    return rule["endpoint"] in (endpoint, "*") and rule["count"] != 0


def any_apply(rules: Sequence[Mapping[str, Any]], endpoint: str) -> bool:
    return any(applies(rule, endpoint) for rule in rules)


def draw(
    rules: Sequence[FaultRuleJson],
    endpoint: str,
    chance: Callable[[], float] = random.random,
) -> Draw:
    fired: list[FiredRule] = []
    after = [rule.copy() for rule in rules]
    changed = False
    for index, rule in enumerate(after):
        if not applies(rule, endpoint):
            continue
        # probability 1 always fires and 0 never does: random() is in [0, 1).
        if chance() >= rule["probability"]:
            continue
        if (count := rule["count"]) is not None:
            rule["count"] = count - 1
            changed = True
        fired.append(
            FiredRule(
                index=index,
                endpoint=endpoint,
                kind=rule["kind"],
                status=rule["status"],
                wait_s=_wait_s(rule, chance) if rule["kind"] == "latency" else 0.0,
            )
        )
        if rule["kind"] in TERMINAL_KINDS:
            break
    return Draw(fired, after, changed)


def _wait_s(rule: Mapping[str, Any], chance: Callable[[], float]) -> float:
    jitter = float(rule["jitterMs"] or 0)
    milliseconds = float(rule["latencyMs"]) + (2 * chance() - 1) * jitter
    return max(0.0, milliseconds) / 1000


def answer_kind(fired: Sequence[FiredRule]) -> str | None:
    """What the fired rules make of the call's answer, as the journal marks it: the `error` or
    `drop` that ends it, else `latency` when one only delayed it; None when none fired."""
    kinds = [rule.kind for rule in fired]
    return next((kind for kind in kinds if kind in TERMINAL_KINDS), kinds[0] if kinds else None)


async def act(fired: Sequence[FiredRule]) -> None:
    """Wait for the latency rules, then answer the error or drop the connection, if one fired."""
    wait = sum(rule.wait_s for rule in fired)
    if wait > 0:
        await asyncio.sleep(wait)
    for rule in fired:
        if rule.kind == "error" and rule.status is not None:
            raise injected_fault(rule.index, rule.endpoint, rule.status)
        if rule.kind == "drop":
            raise ConnectionDropped(f"rule {rule.index} drops {rule.endpoint}")


@dataclass(frozen=True, slots=True)
class CallFaults:
    """What the org's rules did to one trading call, and its token lifetime."""

    fired: list[FiredRule]
    token_ttl_seconds: int | None


async def draw_faults(session: AsyncSession, org_id: uuid.UUID, endpoint: str) -> CallFaults:
    """Draw the org's rules for a call of `endpoint`, using up the counts of those that fire.

    Most calls read one row and write nothing. Only when a rule with a count could fire is the
    row read again under a lock, so that concurrent calls never fire a counted rule too often.
    """
    state = await org_states_repository.get_org_state(session, org_id)
    if state is None:
        return CallFaults([], None)
    candidates = [rule for rule in state.fault_rules if applies(rule, endpoint)]
    if not candidates:
        return CallFaults([], state.token_ttl_seconds)
    if any(rule["count"] is not None for rule in candidates):
        locked = await org_states_repository.get_org_state(session, org_id, for_update=True)
        state = locked or state
    drawn = draw(state.fault_rules, endpoint)
    if drawn.counts_changed:
        await org_states_repository.set_fault_rules(session, state, drawn.rules)
    return CallFaults(drawn.fired, state.token_ttl_seconds)
