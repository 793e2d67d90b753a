"""One unit of work per request: the request's session commits once, in `get_session`.

Services and repositories never commit. The only commits before a unit of work's end are the
named `end_transaction_before_slow_work` (core/db.py), at the places its docstring lists.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from tests.factories import Api, create_user

SRC = Path(__file__).resolve().parents[2] / "src" / "voke_esm"
ADMIN = "/api/v1/voke-esm/admin"

# Where a transaction ends before slow work on purpose (see end_transaction_before_slow_work).
SLOW_WORK_CALLERS = {
    ("voke/auth/service.py", "login"),
    ("voke/auth/service.py", "ensure_super_admin"),
    ("sandbox/telemetry/router.py", "take_telemetry"),
}


def _calls(name: str) -> Iterator[tuple[str, str]]:
    """(file, enclosing function) of every call of `name` (a function or a method) in src."""
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Call):
                    called = node.func
                    called_name = (
                        called.attr
                        if isinstance(called, ast.Attribute)
                        else getattr(called, "id", "")
                    )
                    if called_name == name:
                        yield path.relative_to(SRC).as_posix(), function.name


class TestCommits:
    def test_only_the_units_of_work_commit(self) -> None:
        # Alembic's env.py runs the migrations, outside any request.
        assert {file for file, _ in _calls("commit")} == {"core/db.py", "migrations/env.py"}

    def test_a_transaction_ends_early_only_before_named_slow_work(self) -> None:
        callers = set(_calls("end_transaction_before_slow_work"))
        assert callers == SLOW_WORK_CALLERS
        assert not set(_calls("release_connection"))


@pytest.fixture
def commits_per_session() -> Iterator[list[int]]:
    """Each session's count of database COMMITs, appended when a session commits a second time.

    The database's COMMIT (an engine event), not the session's `after_commit`, which a released
    SAVEPOINT fires too; each connection notes the session whose transaction it runs.
    """
    repeated: list[int] = []

    def began(session: Session, _transaction: Any, connection: Connection) -> None:
        connection.info["unit_of_work"] = session.info

    def committed(connection: Connection) -> None:
        unit = connection.info.get("unit_of_work")
        if unit is None:
            return
        unit["commits"] = unit.get("commits", 0) + 1
        if unit["commits"] > 1:
            repeated.append(unit["commits"])

    event.listen(Session, "after_begin", began)
    event.listen(Engine, "commit", committed)
    try:
        yield repeated
    finally:
        event.remove(Session, "after_begin", began)
        event.remove(Engine, "commit", committed)


class TestAdminRequests:
    async def test_each_session_commits_once(
        self, api: Api, commits_per_session: list[int], database_url: Any
    ) -> None:
        org = await api.enabled_org()
        await create_user(api)  # SuperAdmin, then argon2 before the insert
        query = {"orgId": org.id}
        for method, path in (("GET", "journal"), ("DELETE", "journal"), ("GET", "faults")):
            response = await api.http.request(
                method, f"{ADMIN}/{path}", params=query, headers=api.headers
            )
            assert response.status_code == 200, response.text
        plants = await api.sandbox_plants(orgId=org.id)
        patched = await api.http.patch(
            f"{ADMIN}/plants/{plants[0]['id']}", json={"name": "Renamed"}, headers=api.headers
        )
        assert patched.status_code == 200, patched.text
        assert commits_per_session == []
