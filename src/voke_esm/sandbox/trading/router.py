"""The seed's trading endpoints that Voke's EsmClientService calls (loopback, rate limited)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote_plus

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from voke_esm.core.deps import KeyringDep, SessionDep, SettingsDep, json_body
from voke_esm.core.errors import (
    InvalidClient,
    LoopbackOnly,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
    error_responses,
    field_errors,
)
from voke_esm.core.metrics import MetricsDep
from voke_esm.sandbox.trading import service as trading_service
from voke_esm.sandbox.trading.callers import TradingCaller
from voke_esm.sandbox.trading.deps import TradingCallDep, TradingPipelineDep, guarded_caller
from voke_esm.sandbox.trading.faults import InjectedFault
from voke_esm.sandbox.trading.pipeline import BEARER_ERRORS, OAUTH2_FORM_ERRORS, is_oauth2_form
from voke_esm.sandbox.trading.schemas import (
    ConfigUpdateRead,
    ConfigUpdateRequest,
    OAuth2TokenForm,
    OAuth2TokenRead,
    PlantConfigQuery,
    PlantConfigRead,
    TokenRead,
    TokenRequest,
    TradingPlantRead,
)

router = APIRouter(
    prefix="/api/v1/voke-esm/trading",
    tags=["Voke ESM (Trading)"],
    responses=error_responses(LoopbackOnly, RateLimited, InjectedFault),
)

_Model = TypeVar("_Model", bound=BaseModel)
_FORM = "application/x-www-form-urlencoded"


class UnsupportedGrantType(ValidationFailed):
    """An OAuth2 form asking for a grant other than client_credentials (RFC 6749 §5.2)."""

    oauth2_error = "unsupported_grant_type"


_TOKEN_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": TokenRequest.model_json_schema(),
                "example": {"clientId": "vesm-0123456789abcdef01234567", "clientSecret": "…"},
            },
            _FORM: {"schema": OAuth2TokenForm.model_json_schema()},
        },
    }
}


def _validated(model: type[_Model], data: Any) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc.errors())) from None


def _validated_form(fields: dict[str, Any]) -> OAuth2TokenForm:
    try:
        return OAuth2TokenForm.model_validate(fields)
    except ValidationError as exc:
        errors = field_errors(exc.errors())
        # RFC 6749 §3.1: a parameter sent without a value is as if omitted, and a missing one
        # is invalid_request; only a grant type actually named is unsupported.
        if fields.get("grant_type") not in (None, "", "client_credentials"):
            raise UnsupportedGrantType(errors) from None
        raise ValidationFailed(errors) from None


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, separator, client_secret = (
            base64.b64decode(encoded, validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient() from None
    if not separator:
        raise InvalidClient()
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(client_secret)


@router.post(
    "/token",
    # JSON in, the seed's names out; the OAuth2 form in, OAuth2's names out.
    response_model=TokenRead | OAuth2TokenRead,
    # Both error shapes (CONTRACT §6): §2's to JSON, with RFC 6749's names to the form.
    responses=error_responses(
        ValidationFailed,
        UnsupportedGrantType,
        InvalidClient,
        LoopbackOnly,
        RateLimited,
        InjectedFault,
        dialect=OAUTH2_FORM_ERRORS,
    ),
    openapi_extra=_TOKEN_BODY_DOC,
)
async def exchange_token(
    request: Request, keyring: KeyringDep, settings: SettingsDep, pipeline: TradingPipelineDep
) -> Any:
    """OAuth2 client-credentials exchange: the contract's JSON body or the standard OAuth2 form."""
    # The form's errors speak OAuth2 through the dialect the trading guard put on the scope.
    is_form = is_oauth2_form(request.scope)
    if is_form:
        form = await request.form()
        fields: dict[str, Any] = {
            key: value for key, value in form.items() if isinstance(value, str)
        }
        basic = _basic_credentials(request)
        if basic is not None:
            fields["client_id"], fields["client_secret"] = basic
        oauth = _validated_form(fields)
        client_id, client_secret = oauth.client_id, oauth.client_secret
    else:
        body = _validated(TokenRequest, await json_body(request))
        client_id, client_secret = body.clientId, body.clientSecret

    # The pipeline's steps 2 to 4 by the clientId; the secret is checked after them (CONTRACT §6).
    caller = await pipeline.guard_client(request, client_id)
    ttl_seconds = settings.token_ttl_seconds
    if caller is not None and caller.token_ttl_seconds:
        ttl_seconds = caller.token_ttl_seconds
    issued = trading_service.exchange_token(
        keyring, caller, client_secret=client_secret, ttl_seconds=ttl_seconds
    )
    if is_form:
        return JSONResponse(
            {
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
            }
        )
    return TokenRead(access_token=issued.access_token, expires_in=issued.expires_in)


# plant/list and plant/config are answered by the trading gate, through the same guard, query
# model and handler as here (voke_esm.sandbox.trading.pipeline): these routes declare them.


@router.get(
    "/plant/list",
    response_model=list[TradingPlantRead],
    responses=error_responses(Unauthorized, dialect=BEARER_ERRORS),
)
async def list_plants(
    caller: Annotated[TradingCaller, guarded_caller("plant/list")], pipeline: TradingPipelineDep
) -> Response:
    """All fake plants of the authenticated client."""
    return await pipeline.plant_list(caller)


@router.get(
    "/plant/config",
    response_model=PlantConfigRead,
    responses=error_responses(ValidationFailed, Unauthorized, NotFound, dialect=BEARER_ERRORS),
)
async def get_plant_config(
    caller: Annotated[TradingCaller, guarded_caller("plant/config")],
    query: Annotated[PlantConfigQuery, Query()],
    pipeline: TradingPipelineDep,
) -> Response:
    """The current time-config schedule of a plant."""
    return await pipeline.plant_config(caller, query)


@router.post(
    "/plant/config/update",
    response_model=ConfigUpdateRead,
    responses=error_responses(ValidationFailed, Unauthorized, NotFound, dialect=BEARER_ERRORS),
)
async def update_plant_config(
    caller: Annotated[TradingCaller, guarded_caller("plant/config/update")],
    body: ConfigUpdateRequest,
    session: SessionDep,
    call: TradingCallDep,
    metrics: MetricsDep,
) -> Any:
    """Push a new time-config schedule; `validateOnly: true` is a dry run."""
    call.plant_id, call.config_update_req_code = body.plant_id, body.config_update_req_code
    answer = await trading_service.update_config(
        session,
        caller.client_id,
        plant_id=body.plant_id,
        config_update_req_code=body.config_update_req_code,
        validate_only=body.validate_only,
        time_configs=[block.as_json() for block in body.time_configs],
        comms_loss_possible=caller.comms_loss_possible,
    )
    call.result_code = answer["resultCode"]
    metrics.config_updates.labels(answer["resultCode"]).inc()
    return answer
