"""What `create_app` builds once, as typed objects instead of loose `app.state` attributes.

Each side declares the services its routes reach: the core's (`CoreServices`), the sandbox's
(`voke_esm.sandbox.services`) and Voke's (`voke_esm.voke.services`) extend it, and the app
stores one object that is all of them (`voke_esm.app.Services`). A module asks for the kind it
knows, so Voke's side still never names anything of the sandbox. This module is the only one
that touches `app.state`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from voke_esm.core.config import Settings
from voke_esm.core.metrics import Metrics
from voke_esm.core.ratelimit import RateLimiter
from voke_esm.core.security import Keyring


@dataclass(frozen=True, kw_only=True)
class CoreServices:
    settings: Settings
    keyring: Keyring
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    limiter: RateLimiter
    metrics: Metrics


_Services = TypeVar("_Services", bound=CoreServices)


def store_services(app: Starlette, services: CoreServices) -> None:
    """Done once, by `create_app`."""
    app.state.services = services


def services_of(app: Starlette, kind: type[_Services]) -> _Services:
    """The app's services as `kind`; an app built without them is a programming error."""
    services = getattr(app.state, "services", None)
    if not isinstance(services, kind):
        raise TypeError(f"the app holds no {kind.__name__}: build it with create_app")
    return services
