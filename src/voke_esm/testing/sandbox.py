"""`EsmSandbox`: a Voke ESM sandbox for a test suite, in this process or already running."""

from __future__ import annotations

import os
import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from voke_esm.testing._wire import ADMIN_PATH, ESM_API_PATH, HIGH_RATE_LIMIT, checked
from voke_esm.testing.org import SandboxOrg

if TYPE_CHECKING:
    from typing import Self

    from voke_esm.testing._service import InProcessService

SANDBOX_URL_VARIABLE = "VOKE_ESM_SANDBOX_URL"


class EsmSandbox:
    """A sandbox to test an ESM client against (CONTRACT §13).

        with EsmSandbox.start() as sandbox:
            org = sandbox.create_org()
            client = MyEsmClient(org.esm_api_url, org.client_id, org.client_secret)
            ...
            org.journal.assert_called("plant/list")

    `start()` runs the service in this process on a free loopback port with a temporary SQLite
    database, removed when the sandbox closes. With `url=` (or `VOKE_ESM_SANDBOX_URL`) it uses
    a running sandbox instead, signing in as a SuperAdmin (`email`/`password`, or
    `VOKE_ADMIN_EMAIL`/`VOKE_ADMIN_PASSWORD`).
    """

    base_url: str
    esm_api_url: str

    def __init__(
        self,
        base_url: str,
        admin_token: str,
        *,
        service: InProcessService | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        """Use `EsmSandbox.start()`."""
        self.base_url = base_url.rstrip("/")
        self.esm_api_url = f"{self.base_url}{ESM_API_PATH}"
        self._admin_token = admin_token
        self._service = service
        self._http = http or httpx.Client(base_url=self.base_url, timeout=30)
        self._http.headers["Authorization"] = f"Bearer {admin_token}"
        self._orgs: list[SandboxOrg] = []

    @classmethod
    def start(
        cls,
        url: str | None = None,
        *,
        email: str | None = None,
        password: str | None = None,
        rate_limit: str = HIGH_RATE_LIMIT,
    ) -> EsmSandbox:
        """A ready sandbox: in this process, or the running one at `url`.

        `rate_limit` is the in-process service's trading limit (`VOKE_ESM_RATE_LIMIT`); each
        org gets its own anyway (`create_org(rate_limit=...)`).
        """
        url = url or os.environ.get(SANDBOX_URL_VARIABLE) or None
        if url is not None:
            return cls._running_at(url, email, password)
        from voke_esm.testing._service import InProcessService

        service = InProcessService(rate_limit=rate_limit)
        base_url = service.start()
        return cls(base_url, service.admin_token, service=service)

    @classmethod
    def _running_at(cls, url: str, email: str | None, password: str | None) -> EsmSandbox:
        email = email or os.environ.get("VOKE_ADMIN_EMAIL")
        password = password or os.environ.get("VOKE_ADMIN_PASSWORD")
        if not email or not password:
            raise ValueError(
                f"a running sandbox ({url}) needs a SuperAdmin's email and password:"
                " pass email= and password=, or set VOKE_ADMIN_EMAIL and VOKE_ADMIN_PASSWORD"
            )
        http = httpx.Client(base_url=url.rstrip("/"), timeout=30)
        try:
            token = _sign_in(http, email, password)
        except BaseException:
            http.close()
            raise
        return cls(url, token, http=http)

    @property
    def in_process(self) -> bool:
        """True when this sandbox runs in this process (and goes away with `close()`)."""
        return self._service is not None

    def create_org(
        self,
        name: str | None = None,
        *,
        rate_limit: str | None = HIGH_RATE_LIMIT,
        token_ttl_seconds: int | None = None,
    ) -> SandboxOrg:
        """A new organization with Voke ESM enabled: fresh credentials and one default plant.

        `rate_limit` is the org's own trading limit, written as `VOKE_ESM_RATE_LIMIT` is
        (`"10/minute"`); high by default, so that only a test that asks for one meets a 429.
        None: the service's. `token_ttl_seconds` shortens its tokens' lifetime."""
        name = name or f"esm-test-{uuid.uuid4().hex[:12]}"
        org = checked(self._http.post("/api/v1/orgs", json={"name": name}))
        credentials = checked(self._http.post(f"{ADMIN_PATH}/enable", params={"orgId": org["id"]}))
        sandbox_org = SandboxOrg(
            base_url=self.base_url, admin_token=self._admin_token, org=org, credentials=credentials
        )
        try:
            if rate_limit is not None or token_ttl_seconds is not None:
                sandbox_org.configure(rate_limit=rate_limit, token_ttl_seconds=token_ttl_seconds)
        except BaseException:
            sandbox_org.delete()
            raise
        return sandbox_org

    def close(self) -> None:
        """Stop the in-process service and remove its database; for a running sandbox, only
        let go of the connection."""
        self._http.close()
        if self._service is not None:
            self._service.stop()
            self._service = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "in this process" if self.in_process else "running"
        return f"EsmSandbox({self.base_url!r}, {where})"


def _sign_in(http: httpx.Client, email: str, password: str) -> str:
    answer: dict[str, Any] = checked(
        http.post("/api/v1/auth/login", json={"email": email, "password": password})
    )
    return str(answer["accessToken"])
