"""The seed's trading endpoints that Voke's EsmClientService calls (loopback, rate limited)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote_plus

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from voke_esm.core.db import session_scope
from voke_esm.core.deps import KeyringDep, LimiterDep, SessionDep, SettingsDep, json_body
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
from voke_esm.sandbox.repository import TradingCaller
from voke_esm.sandbox.tools import faults
from voke_esm.sandbox.tools.faults import InjectedFault
from voke_esm.sandbox.trading import service as trading_service
from voke_esm.sandbox.trading.deps import (
    BEARER_ERRORS,
    OAUTH2_FORM_ERRORS,
    PlantReadsDep,
    TradingCallDep,
    TradingCallersDep,
    apply_faults,
    guarded_caller,
    is_oauth2_form,
)
from voke_esm.sandbox.trading.schemas import (
    PLANT_ID_MAX_LENGTH,
    ConfigUpdateRead,
    ConfigUpdateRequest,
    OAuth2TokenForm,
    OAuth2TokenRead,
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
    request: Request,
    keyring: KeyringDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    call: TradingCallDep,
    callers: TradingCallersDep,
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

    caller = await callers.read(client_id)
    ttl_seconds = settings.token_ttl_seconds
    if caller is not None:
        # A known clientId ties the call to its org: journaled, and the org's faults apply, even
        # when the secret then turns out wrong (CONTRACT §11).
        call.identify(caller.org_id, caller.client_id)
        if faults.any_apply(caller.fault_rules, "token"):
            async with session_scope(request.app.state.sessionmaker) as session:
                await apply_faults(request, session, caller.org_id, "token")
        ttl_seconds = caller.token_ttl_seconds or ttl_seconds
    # Failed exchanges count too: this is what makes guessing secrets slow.
    await limiter.hit(limiter.parse(settings.voke_esm_rate_limit), "trading", "token", client_id)
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


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


@router.get(
    "/plant/list",
    response_model=list[TradingPlantRead],
    responses=error_responses(Unauthorized, dialect=BEARER_ERRORS),
)
async def list_plants(
    caller: Annotated[TradingCaller, guarded_caller("plant/list")], reads: PlantReadsDep
) -> Response:
    """All fake plants of the authenticated client."""
    return _json(await reads.plant_list(caller))


@router.get(
    "/plant/config",
    response_model=PlantConfigRead,
    responses=error_responses(ValidationFailed, Unauthorized, NotFound, dialect=BEARER_ERRORS),
)
async def get_plant_config(
    caller: Annotated[TradingCaller, guarded_caller("plant/config", plant_from_query=True)],
    reads: PlantReadsDep,
    call: TradingCallDep,
    plant_id: Annotated[
        str,
        Query(
            alias="plantId", min_length=1, max_length=PLANT_ID_MAX_LENGTH, examples=["PLANT-001"]
        ),
    ],
) -> Response:
    """The current time-config schedule of a plant."""
    call.plant_id = plant_id
    return _json(await reads.plant_config(caller, plant_id))


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
    )
    call.result_code = answer["resultCode"]
    metrics.config_updates.labels(answer["resultCode"]).inc()
    return answer
