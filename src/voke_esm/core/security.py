"""Cryptography in one place: password hashes, JWTs, client-secret digests, encryption at rest."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from voke_esm.core.config import Settings

VOKE_ISSUER = "voke"
TRADING_ISSUER = "voke-esm"
JWT_ALGORITHM = "HS256"
_CIPHERTEXT_VERSION = "v1"
_VERIFIED_TOKENS_KEPT = 10_000  # then forgotten at once, and verified afresh on their next use

_password_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_password_hash() -> str:
    """A hash of a random password, so that a login for an unknown email costs the same time.

    Made on the first such login rather than at import: one argon2 hash takes about 100 ms and a
    64 MiB memory block, which every start of the service (and of the CLI) would otherwise pay.
    """
    return _password_hasher.hash(secrets.token_urlsafe(16))


def verify_password_or_dummy(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        verify_password(_dummy_password_hash(), password)
        return False
    return verify_password(password_hash, password)


class TokenError(Exception):
    """A JWT that is missing, malformed, expired, wrongly signed or of the wrong issuer."""


def _derive(master: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        master.encode()
    )


@dataclass(frozen=True, slots=True)
class Keyring:
    """The keys the service uses, derived once from settings."""

    jwt_key: str
    secret_digest_key: bytes
    encryption_key: bytes
    # (token, issuer) -> claims of tokens whose signature and claims have been verified.
    _verified_tokens: dict[tuple[str, str], dict[str, Any]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        encryption_master = settings.encryption_key()
        return cls(
            jwt_key=settings.jwt_key(),
            secret_digest_key=_derive(encryption_master, b"voke-esm client secret digest"),
            encryption_key=_derive(encryption_master, b"voke-esm credentials at rest"),
        )

    # JWTs -----------------------------------------------------------------------------------

    def issue_token(self, *, issuer: str, subject: str, ttl_seconds: int, **claims: Any) -> str:
        now = datetime.now(UTC)
        payload = {
            "iss": issuer,
            "sub": subject,
            "iat": now,
            "exp": now + timedelta(seconds=ttl_seconds),
            "jti": secrets.token_urlsafe(12),
            **claims,
        }
        return jwt.encode(payload, self.jwt_key, algorithm=JWT_ALGORITHM)

    def decode_token(self, token: str, *, issuer: str) -> dict[str, Any]:
        """The claims of a token this keyring signed for `issuer`, if it has not expired.

        A token's signature and claims never change, so a token seen before is only checked
        for expiry: a client repeats its token on every call, and the full check costs more
        than the rest of a cached plant read. What the token stands for (a client that may have
        been revoked since) is the caller's to check, every time.
        """
        claims = self._verified_tokens.get((token, issuer))
        if claims is None:
            claims = self._verify(token, issuer)
            if len(self._verified_tokens) >= _VERIFIED_TOKENS_KEPT:
                self._verified_tokens.clear()
            self._verified_tokens[(token, issuer)] = claims
        if int(claims["exp"]) <= time.time():  # PyJWT's own rule: expired from `exp` on
            raise TokenError("Signature has expired")
        return claims

    def _verify(self, token: str, issuer: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.jwt_key,
                algorithms=[JWT_ALGORITHM],
                issuer=issuer,
                options={"require": ["exp", "iss", "sub", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None
        if not isinstance(claims.get("sub"), str):
            raise TokenError("subject must be a string")
        return claims

    # Client secrets -------------------------------------------------------------------------

    def digest_client_secret(self, client_secret: str) -> str:
        # The secret is 256 random bits, so a keyed SHA-256 is as safe as a slow hash and keeps
        # the token exchange fast (the same reasoning as API-token stores such as GitHub's).
        return hmac.new(self.secret_digest_key, client_secret.encode(), hashlib.sha256).hexdigest()

    def client_secret_matches(self, client_secret: str, stored_digest: str | None) -> bool:
        candidate = self.digest_client_secret(client_secret)
        return hmac.compare_digest(candidate, stored_digest or "0" * len(candidate))

    # Encryption at rest ---------------------------------------------------------------------

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.encryption_key).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_CIPHERTEXT_VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, ciphertext: str, *, context: str) -> str:
        version, _, body = ciphertext.partition(":")
        if version != _CIPHERTEXT_VERSION:
            raise ValueError("unknown ciphertext version")
        raw = base64.urlsafe_b64decode(body)
        try:
            return (
                AESGCM(self.encryption_key).decrypt(raw[:12], raw[12:], context.encode()).decode()
            )
        except InvalidTag:
            raise ValueError("ciphertext does not match its key or context") from None


def new_client_id() -> str:
    return f"vesm-{secrets.token_hex(12)}"


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)
