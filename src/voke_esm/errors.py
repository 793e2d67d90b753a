"""One error type per failure, each pinned to a contract code and status (CONTRACT §2).

`install_error_handlers` is the single place that turns anything raised into the envelope
`{code, details, error, message, statusCode}`.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

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

from voke_esm.schemas import ErrorEnvelope, FieldError

logger = logging.getLogger("voke_esm")


class AppError(Exception):
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Internal server error"

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


class InvalidUuid(AppError):
    code, status, default_message = "INVALID_UUID", 400, "Invalid UUID"


class ValidationFailed(AppError):
    code, status, default_message = "VALIDATION_ERROR", 400, "Validation error"

    def __init__(self, errors: Sequence[FieldError], message: str | None = None) -> None:
        super().__init__(message, details={"errors": [dict(error) for error in errors]})


class Unauthorized(AppError):
    code, status, default_message = "UNAUTHORIZED", 401, "Authentication required"


class InvalidClient(AppError):
    code, status, default_message = "INVALID_CLIENT", 401, "Invalid client credentials"


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


class ServiceUnavailable(AppError):
    code, status, default_message = "SERVICE_UNAVAILABLE", 503, "Database unavailable"


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


def error_response(exc: AppError) -> JSONResponse:
    return JSONResponse(exc.envelope(), status_code=exc.status, headers=exc.headers or None)


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
            by_field["body"] = "Request body is not valid JSON"
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
    if isinstance(problem, ServiceUnavailable) and problem is not exc:
        logger.error("database unavailable: %s", type(exc).__name__)
    elif isinstance(problem, InternalError) and not isinstance(
        exc, (StarletteHTTPException, AppError)
    ):
        # The traceback goes to the log only; the body never carries it.
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(problem)


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


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the given error types, with an example envelope each."""
    by_status: dict[int, list[type[AppError]]] = {}
    documented: tuple[type[AppError], ...] = (*errors, InternalError)
    for error in documented:
        by_status.setdefault(error.status, []).append(error)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        examples = {
            error.code: {"value": error_envelope(error.status, error.code, error.default_message)}
            for error in group
        }
        responses[status] = {
            "model": ErrorEnvelope,
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"examples": examples}},
        }
    return responses
