"""`SandboxOrg`: one enabled organization of a sandbox, and the §11 tools a test uses on it."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Literal, TypedDict

import httpx

from voke_esm.testing._wire import (
    ADMIN_PATH,
    ENDPOINTS,
    camel_keys,
    checked,
    endpoint_of,
    snake_keys,
    to_camel,
    to_snake,
)

Endpoint = Literal["token", "plant/list", "plant/config", "plant/config/update"]
FaultEndpoint = Literal["token", "plant/list", "plant/config", "plant/config/update", "*"]
FaultKind = Literal["error", "latency", "drop"]
# The journal's `wait` takes at most 30 s a request (CONTRACT §11); a longer wait asks again.
_MAX_WAIT_S = 30.0
_SHOWN_CALLS = 25


class JournalEntry(TypedDict):
    """One trading call as the journal recorded it (CONTRACT §11), in snake_case."""

    at: str
    client_id: str | None
    method: str
    path: str
    status: int
    plant_id: str | None
    config_update_req_code: str | None
    result_code: str | None
    duration_ms: float


def _instant(at: datetime | str) -> str:
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("give an aware datetime (with a time zone), e.g. datetime.now(UTC)")
        return at.isoformat()
    return at


class Plants:
    """The org's sandbox plants (the admin API of CONTRACT §4, §12), in snake_case."""

    def __init__(self, org: SandboxOrg) -> None:
        self._org = org

    def create(self, **fields: Any) -> dict[str, Any]:
        """Create a sandbox plant of this org: the admin create body in snake_case, without
        `client_id` (`external_plant_id`, `name`, `capacity_kwh`, `time_configs`...).
        `external_plant_id` and `name` are made up when not given."""
        fields.setdefault("external_plant_id", f"PLANT-{uuid.uuid4().hex[:10].upper()}")
        fields.setdefault("name", fields["external_plant_id"])
        body = {**camel_keys(fields), "clientId": self._org.client_id}
        return self._org._object("POST", f"{ADMIN_PATH}/plants", json=body)

    def get(self, plant_id: str) -> dict[str, Any]:
        """The plant with this `id` (the sandbox plant's UUID, not its externalPlantId)."""
        return self._org._object("GET", f"{ADMIN_PATH}/plants/{plant_id}")

    def list(self) -> list[dict[str, Any]]:
        """Every plant of the org's `client_id`."""
        answer: list[dict[str, Any]] = self._org._call(
            "GET", f"{ADMIN_PATH}/plants", params={"clientId": self._org.client_id}
        )
        return answer

    def update(self, plant_id: str, **fields: Any) -> dict[str, Any]:
        """Change some fields of the plant (the admin PATCH)."""
        return self._org._object(
            "PATCH", f"{ADMIN_PATH}/plants/{plant_id}", json=camel_keys(fields)
        )

    def delete(self, plant_id: str) -> None:
        self._org._call("DELETE", f"{ADMIN_PATH}/plants/{plant_id}")


class Faults:
    """The org's fault rules (CONTRACT §11). `inject` is the usual way in: its rule goes away
    when the `with` block ends, whatever the test did."""

    def __init__(self, org: SandboxOrg) -> None:
        self._org = org

    def get(self) -> dict[str, Any]:
        """`{rules, token_ttl_seconds, ...}` as the sandbox holds them (`count` is what is left)."""
        return self._org._object("GET", f"{ADMIN_PATH}/faults")

    def set(self, rules: list[Mapping[str, Any]], **settings: Any) -> dict[str, Any]:
        """Replace the org's rules; `settings` are the other fields of `PUT faults`
        (`token_ttl_seconds`, `rate_limit`). Left out, they keep their current values."""
        current = self._org._call_raw("GET", f"{ADMIN_PATH}/faults")
        body = {key: value for key, value in current.items() if key != "rules"}
        body.update(camel_keys(settings))
        body["rules"] = camel_keys(list(rules))
        return self._org._object("PUT", f"{ADMIN_PATH}/faults", json=body)

    def clear(self) -> None:
        """No rules, and the service's own token lifetime and rate limit."""
        self._org._call("DELETE", f"{ADMIN_PATH}/faults")

    @contextlib.contextmanager
    def inject(
        self,
        endpoint: FaultEndpoint,
        kind: FaultKind,
        *,
        status: int | None = None,
        latency_ms: float | None = None,
        jitter_ms: float | None = None,
        probability: float = 1,
        count: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Add one rule for the `with` block, beside the org's others, and remove it at the end.

        `kind` `error` answers `status` (400..599) with code `INJECTED_FAULT`; `latency` waits
        `latency_ms` ± `jitter_ms` then answers normally; `drop` closes the connection without
        an answer. `probability` (0..1) and `count` (how many times) bound the rule.

            with org.faults.inject("plant/list", "error", status=503, count=1):
                ...  # the client's first plant/list gets a 503
        """
        rule = {
            "endpoint": endpoint,
            "kind": kind,
            "status": status,
            "latencyMs": latency_ms,
            "jitterMs": jitter_ms,
            "probability": probability,
            "count": count,
        }
        current = self._org._call_raw("GET", f"{ADMIN_PATH}/faults")
        index = len(current["rules"])
        self._org._call(
            "PUT", f"{ADMIN_PATH}/faults", json={**current, "rules": [*current["rules"], rule]}
        )
        try:
            yield {to_snake(key): value for key, value in rule.items()}
        finally:
            self._remove(rule, index)

    def _remove(self, rule: dict[str, Any], index: int) -> None:
        current = self._org._call_raw("GET", f"{ADMIN_PATH}/faults")
        rules: list[dict[str, Any]] = current["rules"]

        def same(other: dict[str, Any]) -> bool:  # `count` is what is left: it may have changed
            return all(other.get(key) == value for key, value in rule.items() if key != "count")

        at = index if index < len(rules) and same(rules[index]) else None
        if at is None:
            at = next((i for i, other in enumerate(rules) if same(other)), None)
        if at is not None:
            del rules[at]
            self._org._call("PUT", f"{ADMIN_PATH}/faults", json={**current, "rules": rules})


class Journal:
    """The org's trading calls (CONTRACT §11): read, assert on, wait for."""

    def __init__(self, org: SandboxOrg) -> None:
        self._org = org

    def entries(
        self,
        endpoint: FaultEndpoint | None = None,
        *,
        plant_id: str | None = None,
        status: int | None = None,
        result_code: str | None = None,
        since: datetime | str | None = None,
        limit: int | None = None,
    ) -> list[JournalEntry]:
        """The org's calls, oldest first, that match every filter given."""
        return list(reversed(self._read(endpoint, plant_id, status, result_code, since, limit)))

    def clear(self) -> None:
        """Forget the org's calls so far."""
        self._org._call("DELETE", f"{ADMIN_PATH}/journal")

    def assert_called(
        self,
        endpoint: Endpoint,
        times: int | None = None,
        plant_id: str | None = None,
        result_code: str | None = None,
        *,
        status: int | None = None,
    ) -> list[JournalEntry]:
        """Assert that the client called `endpoint` (`times` times exactly, or at least once),
        with this `plant_id`, `result_code` and answer `status` where given; returns the
        matching calls, oldest first. The failure lists the calls that were made, near misses
        (the same endpoint with another plant, status or result code) first."""
        _check_endpoint(endpoint)
        made = self.entries()
        filters = {"plant_id": plant_id, "status": status, "result_code": result_code}
        matching = [entry for entry in made if _matches(entry, endpoint, filters)]
        if (len(matching) >= 1) if times is None else (len(matching) == times):
            return matching
        wanted = "at least once" if times is None else _times(times)
        raise AssertionError(
            f"expected {endpoint} to be called {wanted}{_described(filters)}, "
            f"but it was called {_times(len(matching))} so far.\n"
            + _listing(made, endpoint, filters)
        )

    def wait_for(
        self,
        endpoint: Endpoint,
        timeout: float = 5,
        *,
        plant_id: str | None = None,
        status: int | None = None,
        result_code: str | None = None,
        since: datetime | str | None = None,
    ) -> JournalEntry:
        """The first call to `endpoint` matching the filters, waiting up to `timeout` seconds
        for one: the journal's `wait` answers as soon as it is made (no polling). A call made
        before counts too; give `since` to wait for a newer one. An AssertionError listing the
        calls made when none comes."""
        _check_endpoint(endpoint)
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            wait = min(left, _MAX_WAIT_S)
            found = self._read(endpoint, plant_id, status, result_code, since, None, wait=wait)
            if found:
                return found[-1]
            if left <= wait:
                break
        filters = {"plant_id": plant_id, "status": status, "result_code": result_code}
        raise AssertionError(
            f"no call to {endpoint}{_described(filters)} within {timeout:g} s.\n"
            + _listing(self.entries(), endpoint, filters)
        )

    def _read(
        self,
        endpoint: str | None,
        plant_id: str | None,
        status: int | None,
        result_code: str | None,
        since: datetime | str | None,
        limit: int | None,
        wait: float | None = None,
    ) -> list[JournalEntry]:
        """Newest first. Filtered by the sandbox and here again: the same answer from a sandbox
        that does not know a filter yet."""
        filters = {"plant_id": plant_id, "status": status, "result_code": result_code}
        params: dict[str, Any] = {to_camel(key): value for key, value in filters.items()}
        params.update(endpoint=endpoint, limit=limit, wait=wait)
        if since is not None:
            params["since"] = _instant(since)
        params = {key: value for key, value in params.items() if value is not None}
        timeout = None if wait is None else wait + 10
        answer = self._org._call("GET", f"{ADMIN_PATH}/journal", params=params, timeout=timeout)
        found = [entry for entry in answer if _matches(entry, endpoint, filters)]
        return found if limit is None else found[:limit]


def _check_endpoint(endpoint: str) -> None:
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint {endpoint!r} is not one of {', '.join(ENDPOINTS)}")


def _matches(entry: Mapping[str, Any], endpoint: str | None, filters: Mapping[str, Any]) -> bool:
    if endpoint not in (None, "*") and endpoint_of(entry["path"]) != endpoint:
        return False
    return all(value is None or entry.get(key) == value for key, value in filters.items())


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _described(filters: Mapping[str, Any]) -> str:
    given = [f"{key}={value!r}" for key, value in filters.items() if value is not None]
    return f" with {', '.join(given)}" if given else ""


def _listing(made: list[JournalEntry], endpoint: str, filters: Mapping[str, Any]) -> str:
    """The calls made, near misses first (oldest first within each group)."""
    if not made:
        return "No trading call was made (the client never reached this org's sandbox)."
    near = [entry for entry in made if endpoint_of(entry["path"]) == endpoint]
    other = [entry for entry in made if endpoint_of(entry["path"]) != endpoint]
    lines = [f"Calls made ({len(made)}, near misses first):"]
    for entry in (near + other)[:_SHOWN_CALLS]:
        differs = [
            f"{key}={entry.get(key)!r}"
            for key, value in filters.items()
            if value is not None and entry.get(key) != value
        ]
        miss = f"  <- near miss: {', '.join(differs)}" if entry in near and differs else ""
        lines.append(f"  {_call_line(entry)}{miss}")
    if len(made) > _SHOWN_CALLS:
        lines.append(f"  ... and {len(made) - _SHOWN_CALLS} more")
    return "\n".join(lines)


def _call_line(entry: JournalEntry) -> str:
    parts = [entry["method"], endpoint_of(entry["path"]) or entry["path"], f"-> {entry['status']}"]
    for key in ("plant_id", "config_update_req_code", "result_code"):
        if entry.get(key) is not None:
            parts.append(f"{key}={entry.get(key)!r}")
    parts.append(f"at {entry['at']}")
    return " ".join(parts)


class Clock:
    """The org's simulated time (CONTRACT §11)."""

    def __init__(self, org: SandboxOrg) -> None:
        self._org = org

    def get(self) -> dict[str, Any]:
        """`{org_id, now, started_at, offset_minutes, frozen}`."""
        return self._org._object("GET", f"{ADMIN_PATH}/clock")

    def advance(self, minutes: float) -> dict[str, Any]:
        """Move simulated time forward: the batteries live through those minutes at once."""
        return self._org._object("POST", f"{ADMIN_PATH}/clock/advance", json={"minutes": minutes})

    def set(self, at: datetime | str, frozen: bool = False) -> dict[str, Any]:
        """Restart the simulation at the instant `at` (an aware datetime or ISO 8601 text);
        `frozen=True` keeps simulated time from following real time until set again."""
        return self._org._object(
            "PUT", f"{ADMIN_PATH}/clock", json={"at": _instant(at), "frozen": frozen}
        )


class Telemetry:
    def __init__(self, org: SandboxOrg) -> None:
        self._org = org

    def snapshot(self, plant_id: str) -> dict[str, Any]:
        """A telemetry snapshot of the plant (its `id`) now (CONTRACT §8, §12), in snake_case."""
        return self._org._object("POST", f"{ADMIN_PATH}/plants/{plant_id}/telemetry")


class SandboxOrg:
    """An organization with Voke ESM enabled: the credentials an ESM client under test uses,
    and the sandbox's tools for this org only.

    Made by `EsmSandbox.create_org()` (or the `esm_org` fixture). It talks to the sandbox with
    an `httpx.Client` of its own: nothing is shared between orgs or with the code under test.
    """

    id: str
    name: str
    client_id: str
    client_secret: str
    esm_api_url: str

    def __init__(
        self,
        *,
        base_url: str,
        admin_token: str,
        org: Mapping[str, Any],
        credentials: Mapping[str, Any],
    ) -> None:
        self.id = str(org["id"])
        self.name = str(org["name"])
        self.client_id = str(credentials["clientId"])
        self.client_secret = str(credentials["clientSecret"])
        self.esm_api_url = str(credentials["esmApiUrl"])
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=30,
        )
        self.plants = Plants(self)
        self.faults = Faults(self)
        self.journal = Journal(self)
        self.clock = Clock(self)
        self.telemetry = Telemetry(self)

    def __repr__(self) -> str:
        return f"SandboxOrg(name={self.name!r}, client_id={self.client_id!r})"

    def configure(
        self, *, rate_limit: str | None = None, token_ttl_seconds: int | None = None
    ) -> None:
        """The org's own trading rate limit (written as `VOKE_ESM_RATE_LIMIT` is, e.g.
        `"10/minute"`) and token lifetime in seconds; None: the service's."""
        current = self._call_raw("GET", f"{ADMIN_PATH}/faults")
        body = {**current, "rateLimit": rate_limit, "tokenTtlSeconds": token_ttl_seconds}
        self._call("PUT", f"{ADMIN_PATH}/faults", json=body)

    def snapshot(self) -> dict[str, Any]:
        """The org's plants, configs and versions as one JSON document (camelCase, as the
        sandbox's `GET snapshot` gives it: fit to keep in a file and `restore` later)."""
        return self._object_raw("GET", f"{ADMIN_PATH}/snapshot")

    def restore(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """Make the org's plants exactly those of a `snapshot()` document."""
        return self._object_raw("PUT", f"{ADMIN_PATH}/snapshot", json=doc)

    def reset(self) -> None:
        """Delete the org's plants and create the default one again (credentials stay)."""
        self._call("POST", f"{ADMIN_PATH}/reset")

    def delete(self) -> None:
        """Delete the org and all of it: its credentials stop working at once."""
        try:
            checked(self._http.delete(f"/api/v1/orgs/{self.id}"))
        finally:
            self._http.close()

    def close(self) -> None:
        """Let go of the org's HTTP client without deleting the org."""
        self._http.close()

    def _call_raw(self, method: str, path: str, **kwargs: Any) -> Any:
        params = {"orgId": self.id, **kwargs.pop("params", {})}
        if "timeout" in kwargs and kwargs["timeout"] is None:
            del kwargs["timeout"]
        return checked(self._http.request(method, path, params=params, **kwargs))

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return snake_keys(self._call_raw(method, path, **kwargs))

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(method, path, **kwargs)
        return answer

    def _object_raw(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._call_raw(method, path, **kwargs)
        return answer
