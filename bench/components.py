"""What one trading request is made of: the pieces timed alone, in-process (no HTTP server).

Run by bench/run.py (it prints one JSON object); on its own:

    .venv/bin/python bench/components.py

Each figure is the CPU time of this process per call (user + system, all threads: aiosqlite
runs each statement on a thread of its own), the fastest of three rounds. The last rows take the
app through httpx's ASGI transport, with and without the §11 journal write, to show what the
journal adds to a call.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.factories: the same bootstrap as the test suite

import anyio  # noqa: E402
import httpx  # noqa: E402
import jwt  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from tests.factories import ADMIN_EMAIL, ADMIN_PASSWORD, SEED_BLOCKS, Api, bootstrap_admin  # noqa: E402

from voke_esm.app import app_services, create_app  # noqa: E402
from voke_esm.core.config import Settings  # noqa: E402
from voke_esm.core.db import session_scope  # noqa: E402
from voke_esm.core.security import TRADING_ISSUER  # noqa: E402
from voke_esm.migrations import upgrade_to_head  # noqa: E402
from voke_esm.sandbox.models import SandboxPlant  # noqa: E402
from voke_esm.sandbox.trading import journal  # noqa: E402
from voke_esm.sandbox.trading.schemas import TradingPlantRead  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def per_call_ms(call: Callable[[], Awaitable[Any]], calls: int = 100) -> float:
    for _ in range(5):
        await call()
    best = float("inf")
    for _ in range(3):
        began = cpu_seconds()
        for _ in range(calls):
            await call()
        best = min(best, (cpu_seconds() - began) * 1000 / calls)
    return best


async def measure(folder: Path) -> dict[str, float]:
    url = f"sqlite+aiosqlite:///{folder / 'components.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    settings = Settings(
        voke_env="test",
        var_dir=folder / "var",
        database_url=url,
        jwt_secret="components-jwt-secret-" + "j" * 32,
        voke_encryption_key="components-encryption-key-" + "k" * 32,
        voke_esm_rate_limit="1000000/second",
    )
    app = create_app(settings)
    results: dict[str, float] = {}
    async with LifespanManager(app):
        await bootstrap_admin(app)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            login = await http.post(
                "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            api = Api(http, login.json()["accessToken"])
            org = await api.enabled_org()
            for _ in range(99):
                await api.create_sandbox_plant(org.client_id, timeConfigs=SEED_BLOCKS)
            token = await api.trading_token(org.client_id, org.client_secret)
            sessions = app_services(app).sessionmaker

            async def empty_transaction() -> None:
                async with session_scope(sessions):
                    pass

            async def select_one() -> None:
                async with session_scope(sessions) as session:
                    await session.execute(text("SELECT 1"))

            async def three_statements() -> None:
                async with session_scope(sessions) as session:
                    for _ in range(3):
                        await session.execute(text("SELECT 1"))

            async def load_100_plants() -> None:
                async with session_scope(sessions) as session:
                    query = select(SandboxPlant).where(SandboxPlant.client_id == org.client_id)
                    plants = (await session.scalars(query)).all()
                    assert len(plants) == 100

            async def load_and_build_100() -> None:
                async with session_scope(sessions) as session:
                    query = select(SandboxPlant).where(SandboxPlant.client_id == org.client_id)
                    [
                        TradingPlantRead.from_plant(plant)
                        for plant in (await session.scalars(query)).all()
                    ]

            async def decode_token() -> None:
                app_services(app).keyring.decode_token(token, issuer=TRADING_ISSUER)

            async def verify_token() -> None:  # what decode_token does the first time
                jwt.decode(
                    token,
                    app_services(app).keyring.jwt_key,
                    algorithms=["HS256"],
                    issuer=TRADING_ISSUER,
                    options={"require": ["exp", "iss", "sub", "iat"]},
                )

            async def thread_hop() -> None:
                await anyio.to_thread.run_sync(lambda: None)

            async def healthz() -> None:
                await http.get("/healthz")

            bearer = {"Authorization": f"Bearer {token}"}

            async def plant_config() -> None:
                response = await http.get(
                    "/api/v1/voke-esm/trading/plant/config",
                    params={"plantId": org.default_plant_id},
                    headers=bearer,
                )
                assert response.status_code == 200

            async def plant_list() -> None:
                response = await http.get("/api/v1/voke-esm/trading/plant/list", headers=bearer)
                assert response.status_code == 200

            results["transaction, no statement (BEGIN IMMEDIATE … COMMIT)"] = await per_call_ms(
                empty_transaction
            )
            results["transaction + SELECT 1"] = await per_call_ms(select_one)
            results["transaction + 3 × SELECT 1"] = await per_call_ms(three_statements)
            results["ORM load of the client's 100 plants"] = await per_call_ms(load_100_plants)
            results["… and 100 TradingPlantRead built"] = await per_call_ms(load_and_build_100)
            results["JWT verified (HS256), a token's first use"] = await per_call_ms(verify_token)
            results["JWT seen before (expiry check only)"] = await per_call_ms(decode_token)
            results["a sync dependency's thread-pool hop"] = await per_call_ms(thread_hop)
            results["GET /healthz through the app (ASGI)"] = await per_call_ms(healthz)
            results["GET plant/config through the app (ASGI)"] = await per_call_ms(plant_config)
            results["GET plant/list through the app (ASGI)"] = await per_call_ms(plant_list)
            # The §11 journal, switched off for comparison (whatever its current shape).
            recorder = getattr(journal, "JournalRecorder", None)
            if recorder is not None and hasattr(recorder, "record"):
                target, name = recorder, "record"
            elif hasattr(journal, "_record"):
                target, name = journal, "_record"
            else:
                return results
            original = getattr(target, name)

            def no_journal(*args: Any, **kwargs: Any) -> Any:
                return None

            setattr(target, name, no_journal)
            try:
                results["GET plant/config, journal off"] = await per_call_ms(plant_config)
                results["GET plant/list, journal off"] = await per_call_ms(plant_list)
            finally:
                setattr(target, name, original)
    return results


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="voke-esm-components-") as folder:
        print(json.dumps(asyncio.run(measure(Path(folder)))))


if __name__ == "__main__":
    main()
