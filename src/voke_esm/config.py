"""The one typed settings object, read from the environment (CONTRACT §1)."""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Self

from limits import parse as parse_rate_limit
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_BYTES = 32
DEFAULT_INTERNAL_URL = "http://localhost:4410/api/v1/voke-esm"


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
    voke_esm_internal_url: str = DEFAULT_INTERNAL_URL
    voke_esm_rate_limit: str = "10/minute"
    login_rate_limit: str = Field(default="10/minute", validation_alias="VOKE_LOGIN_RATE_LIMIT")
    login_peer_rate_limit: str = Field(
        default="100/minute", validation_alias="VOKE_LOGIN_PEER_RATE_LIMIT"
    )
    rate_limit_storage_url: str = "memory://"
    amqp_url: SecretStr | None = None
    trading_sync_interval_s: float = Field(default=0, ge=0)
    # How long a trading sync's lease outlives a crashed holder (esm/client/service.py).
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

    @field_validator("voke_esm_rate_limit", "login_rate_limit", "login_peer_rate_limit")
    @classmethod
    def _parseable_rate_limit(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit such as '10/minute': {value!r}") from exc
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
        if self.esm_module_enabled and self.voke_esm_internal_url.startswith("http://localhost"):
            raise SettingsError(
                "VOKE_ESM_INTERNAL_URL must not start with http://localhost in production:"
                " use a loopback IP such as http://127.0.0.1:4410/api/v1/voke-esm"
            )
        return self

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
        self.var_dir.mkdir(parents=True, exist_ok=True)
        generated = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process generated it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(generated)
        return generated


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
        field = ".".join(str(part) for part in first["loc"]).upper() or "settings"
        raise SettingsError(f"{field}: {first['msg']}") from None
