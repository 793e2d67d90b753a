"""The one typed settings object, read from the environment (CONTRACT §1)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Self
from urllib.parse import SplitResult, urlsplit

from limits import parse as parse_rate_limit
from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from voke_esm.core.private_files import create_private_file, make_private_dir

MIN_SECRET_BYTES = 32
DEFAULT_PORT = 4410
ESM_API_PATH = "/api/v1/voke-esm"


def default_internal_url(port: int) -> str:
    """§1: with no VOKE_ESM_INTERNAL_URL, Voke calls the port `serve` listens on."""
    return f"http://localhost:{port}{ESM_API_PATH}"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SettingsError(ValueError):
    """A configuration the service refuses to start with; its message is one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", populate_by_name=True
    )

    voke_env: Environment = Environment.DEVELOPMENT
    var_dir: Path = Field(default=Path("var"), validation_alias="VOKE_VAR_DIR")
    database_url: str | None = None
    jwt_secret: SecretStr | None = None
    voke_encryption_key: SecretStr | None = None
    voke_esm_enabled: bool | None = None
    # None: not configured, and `esm_api_url` follows the port `serve` listens on (§1).
    voke_esm_internal_url: str | None = None
    voke_esm_rate_limit: str = "10/minute"
    login_rate_limit: str = Field(default="10/minute", validation_alias="VOKE_LOGIN_RATE_LIMIT")
    login_peer_rate_limit: str = Field(
        default="100/minute", validation_alias="VOKE_LOGIN_PEER_RATE_LIMIT"
    )
    rate_limit_storage_url: str = "memory://"
    amqp_url: SecretStr | None = None
    trading_sync_interval_s: float = Field(default=0, ge=0)
    # How long a trading sync's lease outlives a crashed holder (voke/client/service.py).
    trading_sync_lease_s: float = Field(default=30.0, gt=0, le=3600)
    telemetry_interval_s: float = Field(default=0, ge=0)
    voke_esm_journal_max: int = Field(default=1000, ge=1)
    voke_admin_email: str | None = None
    voke_admin_password: SecretStr | None = None
    token_ttl_seconds: int = Field(default=3600, ge=1, validation_alias="VOKE_ESM_TOKEN_TTL_S")
    voke_token_ttl_seconds: int = Field(
        default=8 * 3600, ge=60, validation_alias="VOKE_TOKEN_TTL_S"
    )
    max_body_bytes: int = 1024 * 1024
    # How long a client may take to send a request's headers before its connection is closed.
    header_timeout_s: float = Field(default=10, gt=0, validation_alias="VOKE_HEADER_TIMEOUT_S")
    # The port `serve` listens on: not read from the environment, set by `serving_on`.
    _serve_port: int = PrivateAttr(default=DEFAULT_PORT)

    @field_validator("voke_esm_rate_limit", "login_rate_limit", "login_peer_rate_limit")
    @classmethod
    def _parseable_rate_limit(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError as exc:
            raise ValueError(f"must be a rate limit such as '10/minute', not {value!r}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _database_that_outlives_a_connection(cls, value: str | None) -> str | None:
        # An in-memory SQLite database is one connection's: the migrations would build the schema
        # in one, and the service would answer from another, empty one.
        if value and value.startswith("sqlite") and _sqlite_in_memory(value):
            raise SettingsError(
                "DATABASE_URL: an in-memory SQLite database does not outlive its connection;"
                " use a file, e.g. sqlite+aiosqlite:///./var/voke-esm.db"
            )
        return value

    @field_validator("voke_esm_internal_url")
    @classmethod
    def _http_url_with_a_host(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # set but empty: as if unset
        value = value.strip()
        if _http_url_parts(value) is None:
            raise SettingsError(
                f"VOKE_ESM_INTERNAL_URL must be an http:// or https:// URL with a host, such as"
                f" http://127.0.0.1:{DEFAULT_PORT}{ESM_API_PATH}"
            )
        return value

    @model_validator(mode="after")
    def _production_refusals(self) -> Self:
        if self.voke_env is not Environment.PRODUCTION:
            return self
        for name, value in (
            ("JWT_SECRET", self.jwt_secret),
            ("VOKE_ENCRYPTION_KEY", self.voke_encryption_key),
        ):
            if value is None:
                raise SettingsError(f"{name} must be set in production")
            if len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
                raise SettingsError(f"{name} is too weak: use at least {MIN_SECRET_BYTES} bytes")
        # §1 says "starts with http://localhost"; the host is what matters, however it is spelt
        # (LOCALHOST, a leading space, https, a *.localhost name): it may resolve to another
        # address than the one the service listens on.
        if self.esm_module_enabled and _is_localhost_name(self.esm_api_url):
            problem = (
                "must not point at localhost in production"
                if self.internal_url_configured
                else "must be set in production (its default points at localhost)"
            )
            raise SettingsError(
                f"VOKE_ESM_INTERNAL_URL {problem}:"
                f" use a loopback IP such as http://127.0.0.1:{DEFAULT_PORT}{ESM_API_PATH}"
            )
        return self

    @property
    def internal_url_configured(self) -> bool:
        return self.voke_esm_internal_url is not None

    @property
    def serve_port(self) -> int:
        return self._serve_port

    @property
    def esm_api_url(self) -> str:
        """The base URL returned to Voke as `esmApiUrl` (§1, §4)."""
        return self.voke_esm_internal_url or default_internal_url(self._serve_port)

    def serving_on(self, port: int) -> Settings:
        """These settings for a service listening on `port`."""
        copy = self.model_copy()
        copy._serve_port = port
        return copy

    def internal_url_port_mismatch(self) -> int | None:
        """The port of a configured VOKE_ESM_INTERNAL_URL on a loopback host when it is not the
        port served: Voke's calls, and an org's credentials, would go to whatever listens there.
        """
        if self.voke_esm_internal_url is None:
            return None
        parts = _http_url_parts(self.voke_esm_internal_url)
        if parts is None or not _is_loopback_host(parts.hostname or ""):
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return None if port == self._serve_port else port

    @property
    def esm_module_enabled(self) -> bool:
        # The seed: in production VOKE_ESM_ENABLED=true must be set explicitly.
        if self.voke_esm_enabled is None:
            return self.voke_env is not Environment.PRODUCTION
        return self.voke_esm_enabled

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'voke-esm.db').resolve()}"

    @property
    def rate_limit_storage_uri(self) -> str:
        """The storage URI in the form `limits` wants for its asyncio storages."""
        uri = self.rate_limit_storage_url
        return uri if uri.startswith("async+") else f"async+{uri}"

    def jwt_key(self) -> str:
        return self._secret_or_generated(self.jwt_secret, "jwt_secret")

    def encryption_key(self) -> str:
        return self._secret_or_generated(self.voke_encryption_key, "encryption_key")

    def _secret_or_generated(self, value: SecretStr | None, file_name: str) -> str:
        """Outside production a missing secret is generated once and kept in var/ (mode 0600)."""
        if value is not None:
            return value.get_secret_value()
        path = self.var_dir / file_name
        if path.exists():
            return path.read_text().strip()
        make_private_dir(self.var_dir)
        generated = secrets.token_urlsafe(48)
        fd = create_private_file(path)
        if fd is None:  # another process generated it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(generated)
        return generated


def _http_url_parts(url: str) -> SplitResult | None:
    """The parts of an http(s) URL with a host and a valid port; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number in range)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts


def _is_localhost_name(url: str) -> bool:
    parts = _http_url_parts(url)
    return parts is not None and _is_localhost_host(parts.hostname or "")


def _is_localhost_host(host: str) -> bool:
    # urlsplit lowercases `hostname`; RFC 6761 reserves every *.localhost name for loopback.
    host = host.rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def _is_loopback_host(host: str) -> bool:
    if _is_localhost_host(host):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _sqlite_in_memory(url: str) -> bool:
    database = url.partition(":///")[2].partition("?")[0]
    return database in ("", ":memory:") or "mode=memory" in url


def load_settings() -> Settings:
    """Settings from the environment; raises SettingsError with a one-line message."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        if isinstance(first.get("ctx", {}).get("error"), SettingsError):
            raise first["ctx"]["error"] from None
        raise SettingsError(f"{_variable(first['loc'])} {_in_plain_words(first)}") from None


def _variable(loc: tuple[int | str, ...]) -> str:
    """The environment variable a pydantic error location stands for (an alias, or the name)."""
    name = str(loc[0]) if loc else ""
    field = Settings.model_fields.get(name)
    if field is not None and isinstance(field.validation_alias, str):
        return field.validation_alias.upper()
    return name.upper() or "A setting"


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _in_plain_words(error: ErrorDetails) -> str:
    """What is wrong with a setting as the end of a sentence that starts with its variable:
    never pydantic's phrasing ("Input should be ...", "Value error, ...") or its value, which
    may be a secret."""
    ctx = error.get("ctx", {})
    kind = error["type"]
    if kind == "value_error":
        return str(ctx["error"])  # the validators above word theirs as "must ..."
    if kind in _BOUNDS:
        phrase, key = _BOUNDS[kind]
        return f"{phrase} {_number(ctx[key])}"
    if kind == "enum":
        return f"must be {ctx['expected']}"
    if kind in _KINDS:
        return _KINDS[kind]
    message = error["msg"].split(",")[0]
    return (
        "must" + message.removeprefix("Input should")
        if message.startswith("Input should")
        else "is not valid"
    )


_BOUNDS = {
    "greater_than_equal": ("must be at least", "ge"),
    "greater_than": ("must be more than", "gt"),
    "less_than_equal": ("must be at most", "le"),
    "less_than": ("must be less than", "lt"),
}
_KINDS = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
}
