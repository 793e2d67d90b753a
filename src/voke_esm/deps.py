"""Request-scoped handles on what `create_app` builds once: settings, keys, limiter, session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.config import Settings
from voke_esm.db import get_session
from voke_esm.errors import ValidationFailed
from voke_esm.ratelimit import RateLimiter
from voke_esm.schemas import FieldError
from voke_esm.security import Keyring


# These are `async def` on purpose: FastAPI runs a plain `def` dependency on its thread pool, a
# hop that costs more than the lookup itself on every request.
async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


async def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


# scope="function": the session commits before the response is sent, so a client never sees
# a success whose commit then failed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(_settings)]
KeyringDep = Annotated[Keyring, Depends(_keyring)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
        return True
    return False


def _unstorable_paths(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if _unstorable(value):
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if _unstorable(str(key)):
                yield child
            else:
                yield from _unstorable_paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_paths(item, f"{path}[{index}]")


async def reject_unstorable_text(request: Request) -> None:
    """Refuse text no database can store: NUL characters and lone surrogates.

    JSON allows both ("\\u0000", "\\ud800"), PostgreSQL refuses them, and an unencodable string
    fails any driver; caught here, on every route, they are a 400 rather than a 500.
    """
    errors: list[FieldError] = [
        {"field": name, "message": _UNSTORABLE}
        for name, value in (*request.query_params.multi_items(), *request.path_params.items())
        if _unstorable(str(value))
    ]
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.body()
        if body and (b"\\u" in body or b"\x00" in body):
            try:
                document = json.loads(body)
            except ValueError:
                document = None  # malformed JSON: the body validation reports it
            errors.extend(
                {"field": name, "message": _UNSTORABLE} for name in _unstorable_paths(document, "")
            )
    if errors:
        raise ValidationFailed(errors)


_UNSTORABLE = "must not contain NUL characters or unpaired surrogates"
