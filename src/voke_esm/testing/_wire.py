"""The HTTP side of `voke_esm.testing`: errors in the §2 envelope, and the contract's camelCase
names as Python's snake_case. Imports httpx only: never the service."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

ESM_API_PATH = "/api/v1/voke-esm"
ADMIN_PATH = f"{ESM_API_PATH}/admin"
TRADING_PATH = f"{ESM_API_PATH}/trading/"
# What an org made by the library may send per endpoint unless a test asks for less (§13: "the
# fixtures' rate limit is high unless the marker sets one"): a test never trips the contract's
# 10/minute by accident, and the same default holds for the fixtures and `create_org`.
HIGH_RATE_LIMIT = "100000/minute"
ENDPOINTS = ("token", "plant/list", "plant/config", "plant/config/update")

_UPPER = re.compile(r"(?<=[a-z0-9])([A-Z])")


class SandboxError(Exception):
    """The sandbox refused a request: its §2 envelope, as attributes."""

    def __init__(self, status_code: int, code: str, message: str, details: Any) -> None:
        super().__init__(f"{status_code} {code}: {message}" + (f" {details}" if details else ""))
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details


def to_camel(name: str) -> str:
    """`external_plant_id` → `externalPlantId`; a name without `_` is left as it is."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def to_snake(name: str) -> str:
    """`externalPlantId` → `external_plant_id`."""
    return _UPPER.sub(r"_\1", name).lower()


def camel_keys(value: Any) -> Any:
    """A Python value with every mapping key in the contract's camelCase (recursively)."""
    if isinstance(value, Mapping):
        return {to_camel(str(key)): camel_keys(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [camel_keys(item) for item in value]
    return value


def snake_keys(value: Any) -> Any:
    """A JSON value with every object key in snake_case (recursively)."""
    if isinstance(value, dict):
        return {to_snake(key): snake_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


def checked(response: httpx.Response) -> Any:
    """The JSON of a successful answer; a `SandboxError` for any other."""
    if response.is_success:
        return response.json()
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    raise SandboxError(
        response.status_code,
        str(body.get("code", "HTTP_ERROR")),
        str(body.get("message", response.reason_phrase)),
        body.get("details") or {},
    )


def endpoint_of(path: str) -> str | None:
    """The trading endpoint a journal entry's path names (`plant/config`), or None."""
    _, found, endpoint = path.partition(TRADING_PATH)
    return endpoint if found else None
