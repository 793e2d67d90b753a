"""One error type per failure, each pinned to a contract code and status (CONTRACT §2).

`install_error_handlers` is the single place that turns anything raised into the envelope
`{code, details, error, message, statusCode}`; a request's `ErrorDialect` adds what its protocol
asks for beyond it (CONTRACT §6: OAuth2's names on a form token request, a 401's challenge).
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, TypeAlias

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import Scope

from voke_esm.core.schemas import ErrorEnvelope, FieldError

logger = logging.getLogger("voke_esm")


class AppError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Internal server error"
    # RFC 6749 §5.2's `error` where an OAuth2 form request gets one (CONTRACT §6); None: the one
    # its status stands for (`oauth2_error`).
    oauth2_error: ClassVar[str | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = dict(details or {})
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def envelope(self) -> dict[str, Any]:
        return error_envelope(self.status, self.code, self.message, self.details)

    @classmethod
    def example(cls) -> AppError:
        """A typical instance, for the docs (`error_responses`): what the service raises when
        nothing more specific is named. A type whose answers carry details overrides it."""
        return cls()


class InvalidUuid(AppError):
    code, status, default_message = "INVALID_UUID", 400, "Invalid UUID"


class ValidationFailed(AppError):
    code, status, default_message = "VALIDATION_ERROR", 400, "Validation error"

    def __init__(self, errors: Sequence[FieldError], message: str | None = None) -> None:
        super().__init__(message, details={"errors": [dict(error) for error in errors]})

    @classmethod
    def example(cls) -> AppError:
        # The commonest 400 of a query route: its required `orgId` left out.
        return cls([{"field": "orgId", "message": "Field required"}])


BODY_NOT_JSON = "Request body is not valid JSON"


class BodyTooDeep(ValidationFailed):
    """JSON nested deeper than the parser goes: Python's raises RecursionError (about 1,000
    levels, fewer the deeper the stack it is called from)."""

    def __init__(self) -> None:
        super().__init__([{"field": "body", "message": "Request body is nested too deeply"}])

    @classmethod
    def example(cls) -> AppError:
        return cls()


class Unauthorized(AppError):
    code, status, default_message = "UNAUTHORIZED", 401, "Authentication required"


class InvalidClient(AppError):
    code, status, default_message = "INVALID_CLIENT", 401, "Invalid client credentials"
    oauth2_error = "invalid_client"


class Forbidden(AppError):
    code, status, default_message = "FORBIDDEN", 403, "SuperAdmin role required"


class LoopbackOnly(AppError):
    code, status, default_message = (
        "LOOPBACK_ONLY",
        403,
        "Trading endpoints accept loopback peers only",
    )


class NotFound(AppError):
    code, status, default_message = "NOT_FOUND", 404, "Not found"


class MethodNotAllowed(AppError):
    code, status, default_message = "METHOD_NOT_ALLOWED", 405, "Method not allowed"


class Conflict(AppError):
    code, status, default_message = "CONFLICT", 409, "Conflict"
    field: ClassVar[str | None] = None  # the taken key, named in details.errors like a 400

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        if self.field is not None:
            self.details.setdefault("errors", [{"field": self.field, "message": self.message}])


class PreconditionFailed(AppError):
    """An `If-Match` that no longer matches: the resource changed since the caller read it."""

    code, status, default_message = "PRECONDITION_FAILED", 412, "Precondition failed"


class PayloadTooLarge(AppError):
    code, status, default_message = "PAYLOAD_TOO_LARGE", 413, "Request body exceeds 1 MiB"


class RateLimited(AppError):
    code, status, default_message = "RATE_LIMITED", 429, "Too many requests"

    def __init__(self, retry_after_s: float, message: str | None = None) -> None:
        seconds = max(1, math.ceil(retry_after_s))
        super().__init__(
            message or f"Rate limit exceeded; retry in {seconds} s",
            details={"retryAfter": seconds},
            headers={"Retry-After": str(seconds)},
        )

    @classmethod
    def example(cls) -> AppError:
        return cls(42)


class ServiceUnavailable(AppError):
    code, status, default_message = "SERVICE_UNAVAILABLE", 503, "Database unavailable"


class TransactionConflict(ServiceUnavailable):
    """PostgreSQL gave the transaction up so that a conflicting one could go on (a deadlock's
    victim, a serialization failure), and running it again conflicted too: the caller may retry."""

    default_message = (
        "The database gave up this request's transaction for a conflicting one: try again"
    )


# SQLSTATEs of a transaction the database gave up for another's sake; PostgreSQL's remedy is to
# run it again (db.retry_conflicts does, once).
CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def is_transaction_conflict(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in CONFLICT_SQLSTATES


class InternalError(AppError):
    pass


def error_envelope(
    status: int, code: str, message: str, details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "code": code,
        "details": dict(details or {}),
        "error": HTTPStatus(status).phrase,
        "message": message,
        "statusCode": status,
    }


@dataclass(frozen=True, slots=True)
class ErrorDialect:
    """What a request's error answers say beyond §2's envelope, put on its ASGI scope under
    `ERROR_DIALECT` by the first component that knows (the trading guard), so that every answer
    to the request, whichever middleware or handler writes it, speaks alike (CONTRACT §6)."""

    oauth2: bool = False  # RFC 6749 §5.2's `error` and `error_description` (`oauth2_envelope`)
    challenge: str | None = None  # the `WWW-Authenticate` of a 401 (RFC 9110 §15.5.2)


ERROR_DIALECT = "voke_esm.error_dialect"


def oauth2_error(status: int, name: str | None = None) -> str:
    """RFC 6749 §5.2's `error` for an answer at `status`; `name` is the failure's own, if any.

    Every 4xx but a failed client authentication (401) is §5.2's catch-all `invalid_request`,
    the 429 included: a §2 code and `Retry-After` say more. §5.2 has nothing for a server that
    fails, so a 5xx takes RFC 6749 §4.1.2.1's names, rather than blame the request.
    """
    if name is not None:
        return name
    if status == 401:
        return "invalid_client"
    if status == 503:
        return "temporarily_unavailable"
    return "server_error" if status >= 500 else "invalid_request"


def oauth2_envelope(status: int, name: str | None, envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope of an OAuth2 form request (CONTRACT §6): RFC 6749 §5.2's `error` and
    `error_description` (the message) in place of §2's `error`, every other field as it was."""
    return {
        **envelope,
        "error": oauth2_error(status, name),
        "error_description": envelope["message"],
    }


def error_response(exc: AppError, scope: Scope | None = None) -> JSONResponse:
    """The answer to `exc`, in the dialect of the request whose `scope` is given."""
    body, headers = exc.envelope(), exc.headers
    dialect = scope.get(ERROR_DIALECT) if scope is not None else None
    if isinstance(dialect, ErrorDialect):
        if dialect.oauth2:
            body = oauth2_envelope(exc.status, exc.oauth2_error, body)
        if dialect.challenge is not None and exc.status == 401:
            headers = {"WWW-Authenticate": dialect.challenge, **headers}
    return JSONResponse(body, status_code=exc.status, headers=headers or None)


def json_path(location: Iterable[int | str]) -> str:
    """('body', 'timeConfigs', 1, 'socMin') -> 'timeConfigs[1].socMin'."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


_REQUEST_PARTS = {"body", "query", "path", "header", "cookie"}
_UNION_BRANCHES = {"int", "float", "str", "bool", "none", "list", "dict"}


def field_errors(details: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """Pydantic's error list as the contract's `[{field, message}]`, one entry per field.

    A value that fails every branch of a union (e.g. a string where a number goes) yields one
    error per branch; the last, the most general, is kept.
    """
    by_field: dict[str, str] = {}
    for error in details:
        location = list(error.get("loc", ()))
        if location and location[0] in _REQUEST_PARTS:
            location = location[1:]
        # Pydantic puts a failed union branch's type name in the location.
        location = [
            part for part in location if not (isinstance(part, str) and part in _UNION_BRANCHES)
        ]
        if error.get("type") == "json_invalid":
            # Its location is a character offset, not a JSON path: the whole body is at fault.
            by_field["body"] = BODY_NOT_JSON
            continue
        by_field[json_path(location) or "body"] = str(error.get("msg", "invalid"))
    return [{"field": field, "message": message} for field, message in by_field.items()]


def _is_bad_uuid(exc: RequestValidationError) -> bool:
    return any(
        error.get("loc", ("",))[0] in {"path", "query"}
        and str(error.get("type", "")).startswith("uuid")
        for error in exc.errors()
    )


def _problem_from(exc: Exception) -> AppError:
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, RequestValidationError):
        if _is_bad_uuid(exc):  # the seed's exact body: no details
            return InvalidUuid()
        return ValidationFailed(field_errors(exc.errors()))
    if isinstance(exc, StarletteHTTPException) and isinstance(exc.__cause__, RecursionError):
        # FastAPI parses a route's JSON body itself and wraps any failure but malformed JSON
        # in a 400 "There was an error parsing the body"; a RecursionError raised elsewhere
        # is not wrapped, and stays a 500.
        return BodyTooDeep()
    if isinstance(exc, StarletteHTTPException):
        headers = dict(exc.headers or {})
        match exc.status_code:
            case 404:
                return NotFound("Route not found", headers=headers)
            case 405:
                return MethodNotAllowed(headers=headers)
            case 413:
                return PayloadTooLarge(headers=headers)
            case 400:
                return ValidationFailed([{"field": "body", "message": str(exc.detail)}])
            case 401:
                return Unauthorized(headers=headers)
            case 403:
                return Forbidden(headers=headers)
        return InternalError(headers=headers)
    if isinstance(exc, StaleDataError):
        # A row this request read was deleted by a concurrent one before this wrote it (a plant
        # deleted, or its org, while being changed): it is gone, as a later request would see.
        return NotFound("Not found: it was deleted meanwhile")
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError, DisconnectionError)):
        return ServiceUnavailable()
    if is_transaction_conflict(exc):  # not retried where it happened: a 503 still, never a 500
        return TransactionConflict()
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return ServiceUnavailable()
    if isinstance(exc, OSError):  # refused or reset connections, timeouts (TimeoutError is one)
        return ServiceUnavailable()
    return InternalError()


async def handle_error(request: Request, exc: Exception) -> JSONResponse:
    """The envelope for anything raised while handling `request`, logged as it deserves."""
    problem = _problem_from(exc)
    if isinstance(problem, MethodNotAllowed):
        # The router names the methods of the first route on the path only; a path can have
        # several (GET and POST /api/v1/orgs are two routes).
        problem.headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
    if isinstance(problem, TransactionConflict):
        logger.warning("%s %s: %s", request.method, request.url.path, problem.message)
    elif isinstance(problem, ServiceUnavailable) and problem is not exc:
        logger.error("database unavailable: %s", type(exc).__name__)
    elif isinstance(problem, InternalError) and not isinstance(
        exc, (StarletteHTTPException, AppError)
    ):
        # The traceback goes to the log only; the body never carries it.
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(problem, request.scope)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of `app` answers on `path`, in alphabetical order."""
    methods: set[str] = set()
    for context in iter_route_contexts(app.router.routes):
        route_methods = getattr(context.original_route, "methods", None)
        if context.path and route_methods and _path_pattern(context.path).match(path):
            methods.update(route_methods)
    return sorted(methods)


@functools.lru_cache(maxsize=256)
def _path_pattern(template: str) -> re.Pattern[str]:
    pattern, _format, _convertors = compile_path(template)
    return pattern


def install_error_handlers(app: FastAPI) -> None:
    # Database and network failures are handled inside the app like any AppError; only the
    # `Exception` fallback goes to Starlette's outermost middleware, which also logs the traceback.
    handled = (AppError, RequestValidationError, StarletteHTTPException, SQLAlchemyError, OSError)
    for exc_type in (*handled, Exception):
        app.add_exception_handler(exc_type, handle_error)


ErrorExample: TypeAlias = type[AppError] | AppError
"""An error an operation can answer, for `error_responses`: a type (documented by its
`example()`) or an instance raised exactly as the service raises it, real message and details."""


def error_responses(
    *errors: ErrorExample, dialect: ErrorDialect | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the errors an operation can answer: per status, the envelope's
    schema and an example of each error, built by the error type itself (`AppError.envelope`)
    so that it cannot drift from what the service sends, with the headers it carries
    (`Retry-After`, `ETag`). Name the most specific type, or pass an instance with the real
    details: `error_responses(OrgNotFound, ValidationFailed([{"field": ..., "message": ...}]))`.
    Examples are keyed by `code` (a second of one code by `code: message`).

    With a `dialect`, its 401 challenge and, for OAuth2, an example of each error as a form
    request gets it beside the plain one (an operation that takes both)."""
    by_status: dict[int, list[AppError]] = {}
    for error in (*errors, InternalError):
        instance = error if isinstance(error, AppError) else error.example()
        by_status.setdefault(instance.status, []).append(instance)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        examples: dict[str, Any] = {}
        headers: dict[str, Any] = {}
        for instance in group:
            envelope = instance.envelope()
            name = instance.code
            if name in examples:
                name = f"{instance.code}: {instance.message}"
            if name in examples:  # the same message again, with other details
                name = f"{name} ({len(examples) + 1})"
            examples[name] = {"summary": f"{instance.code}: {instance.message}", "value": envelope}
            for header, value in instance.headers.items():
                headers.setdefault(header, _header_doc(header, value))
            if dialect is not None and dialect.oauth2:
                form = oauth2_error(instance.status, instance.oauth2_error)
                examples[name]["summary"] = f"{instance.code} to a JSON request"
                examples[f"{name} (form: {form})"] = {
                    "summary": f"{instance.code} to an OAuth2 form request: {form}",
                    "value": oauth2_envelope(instance.status, instance.oauth2_error, envelope),
                }
        description = HTTPStatus(status).phrase
        if dialect is not None and dialect.oauth2:
            description += (
                "; to an OAuth2 form request, `error` is RFC 6749's and `error_description` "
                "repeats `message`"
            )
        responses[status] = {
            "model": ErrorEnvelope,
            "description": description,
            "content": {"application/json": {"examples": examples}},
        }
        if dialect is not None and dialect.challenge is not None and status == 401:
            headers["WWW-Authenticate"] = {
                "description": "the challenge to meet (RFC 9110 §11.6.1)",
                "schema": {"type": "string", "example": dialect.challenge},
            }
        if headers:
            responses[status]["headers"] = headers
    return responses


_HEADER_MEANINGS = {
    "Retry-After": "whole seconds to wait before trying again",
    "ETag": "the resource's current tag, to send as `If-Match` after reading it again",
}


def _header_doc(name: str, example: str) -> dict[str, Any]:
    return {
        "description": _HEADER_MEANINGS.get(name, name),
        "schema": {"type": "string", "example": example},
    }
