"""Request-scoped handles on what `create_app` builds once: settings, keys, limiter, session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from voke_esm.config import Settings
from voke_esm.db import get_session
from voke_esm.ratelimit import RateLimiter
from voke_esm.security import Keyring


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


# scope="function": the session commits before the response is sent, so a client never sees
# a success whose commit then failed.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(_settings)]
KeyringDep = Annotated[Keyring, Depends(_keyring)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]
