"""Request-scoped handles on what `create_app` builds once: settings, keys, limiter, metrics,
session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.core.config import Settings
from voke_esm.core.db import get_session
from voke_esm.core.errors import BODY_NOT_JSON, BodyTooDeep, ValidationFailed
from voke_esm.core.metrics import Metrics
from voke_esm.core.ratelimit import RateLimiter
from voke_esm.core.schemas import FieldError
from voke_esm.core.security import Keyring
from voke_esm.core.services import CoreServices, services_of


# These are `async def` on purpose: FastAPI runs a plain `def` dependency on its thread pool, a
# hop that costs more than the lookup itself on every request.
async def core_services(request: Request) -> CoreServices:
    return services_of(request.app, CoreServices)


CoreServicesDep = Annotated[CoreServices, Depends(core_services)]


async def _settings(services: CoreServicesDep) -> Settings:
    return services.settings


async def _keyring(services: CoreServicesDep) -> Keyring:
    return services.keyring


async def _limiter(services: CoreServicesDep) -> RateLimiter:
    return services.limiter


async def _metrics(services: CoreServicesDep) -> Metrics:
    return services.metrics


# scope="function": the session commits before the response is sent, so a client never sees
# a success whose commit then failed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(_settings)]
KeyringDep = Annotated[Keyring, Depends(_keyring)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
        return True
    return False


_UNSTORABLE_KEY = object()  # stands for the value of a key that is itself unstorable


def _unstorable_paths(document: Any) -> Iterator[str]:
    """The JSON path of each unstorable string or key, in document order.

    A loop, not recursion: a document as deep as the parser allows is walked as easily.
    """
    pending: list[tuple[Any, str]] = [(document, "")]
    while pending:
        value, path = pending.pop()
        if value is _UNSTORABLE_KEY or (isinstance(value, str) and _unstorable(value)):
            yield path or "body"
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                child = f"{path}.{key}" if path else str(key)
                pending.append((_UNSTORABLE_KEY if _unstorable(str(key)) else item, child))
        elif isinstance(value, list):
            for index in reversed(range(len(value))):
                pending.append((value[index], f"{path}[{index}]"))


def takes_body(request: Request) -> bool:
    """Whether the request's route reads a body: one FastAPI validates, or one the route reads
    itself and documents (the token exchange's two content types)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return False
    return route.body_field is not None or "requestBody" in (route.openapi_extra or {})


async def json_body(request: Request) -> Any:
    """The request's body as JSON, for a route that parses its own (FastAPI's parsed body is
    reused, not parsed again). Malformed JSON, or JSON nested deeper than the parser goes, is a
    400 at `body` (CONTRACT §2)."""
    try:
        return await request.json()
    except RecursionError:
        raise BodyTooDeep() from None
    except ValueError:
        raise ValidationFailed([{"field": "body", "message": BODY_NOT_JSON}]) from None


async def reject_unstorable_text(request: Request) -> None:
    """Refuse text no database can store: NUL characters and lone surrogates.

    JSON allows both ("\\u0000", "\\ud800"), PostgreSQL refuses them, and an unencodable string
    fails any driver; caught here, on every route, they are a 400 rather than a 500. A body is
    read only by a route that takes one: any other ignores whatever was sent with it.
    """
    errors: list[FieldError] = [
        {"field": name, "message": _UNSTORABLE}
        for name, value in (*request.query_params.multi_items(), *request.path_params.items())
        if _unstorable(str(value))
    ]
    if takes_body(request) and request.headers.get("content-type", "").startswith(
        "application/json"
    ):
        body = await request.body()
        if body and (b"\\u" in body or b"\x00" in body):
            document = await json_body(request)  # malformed: the same 400 the route would give
            errors.extend(
                {"field": name, "message": _UNSTORABLE} for name in _unstorable_paths(document)
            )
    if errors:
        raise ValidationFailed(errors)


_UNSTORABLE = "must not contain NUL characters or unpaired surrogates"
