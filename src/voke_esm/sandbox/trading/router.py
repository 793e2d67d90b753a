"""The seed's trading endpoints that Voke's EsmClientService calls (loopback, rate limited)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote_plus

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from voke_esm.core.deps import KeyringDep, MetricsDep, SessionDep, SettingsDep, json_body
from voke_esm.core.errors import (
    AppError,
    InvalidClient,
    LoopbackOnly,
    RateLimited,
    Unauthorized,
    ValidationFailed,
    error_responses,
    field_errors,
)
from voke_esm.core.openapi import as_examples, documented
from voke_esm.sandbox import examples
from voke_esm.sandbox.trading import quirks
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
    TokenRequest,
    TradingPlantRead,
    TradingTokenRead,
)
from voke_esm.sandbox.trading.service import TradingPlantNotFound

router = APIRouter(
    prefix="/api/v1/voke-esm/trading",
    tags=["Voke ESM (Trading)"],
    responses=error_responses(LoopbackOnly, RateLimited, InjectedFault),
)

# What every trading call can answer beyond its own errors (CONTRACT §6, §11): a remote peer's
# 403, a 429, and an injected fault (here rule 0 at 503; an `error` rule answers any 400..599).
_TRADING_ERRORS = (LoopbackOnly, examples.RATE_LIMITED)

_Model = TypeVar("_Model", bound=BaseModel)
_FORM = "application/x-www-form-urlencoded"


class UnsupportedGrantType(ValidationFailed):
    """An OAuth2 form asking for a grant other than client_credentials (RFC 6749 §5.2)."""

    oauth2_error = "unsupported_grant_type"

    @classmethod
    def example(cls) -> AppError:
        return cls(examples.UNSUPPORTED_GRANT_ERRORS)


_TOKEN_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": TokenRequest.model_json_schema(),
                "examples": as_examples(examples.TOKEN_REQUEST),
            },
            _FORM: {
                "schema": OAuth2TokenForm.model_json_schema(),
                "examples": as_examples(examples.TOKEN_FORM_REQUEST),
            },
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
    response_model=TradingTokenRead | OAuth2TokenRead,
    # Both error shapes (CONTRACT §6): §2's to JSON, with RFC 6749's names to the form.
    **documented(
        "Exchange client credentials for a trading token",
        ValidationFailed(examples.TOKEN_SHAPE_ERRORS),
        UnsupportedGrantType,
        InvalidClient,
        *_TRADING_ERRORS,
        examples.injected_fault("token"),
        answer=examples.TOKEN_ANSWER,
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
    org_quirks = caller.quirks if caller is not None else frozenset()
    if is_form and quirks.refuses_form(org_quirks):
        raise UnsupportedGrantType([{"field": "grant_type", "message": "send JSON"}])
    ttl_seconds = settings.token_ttl_seconds
    if caller is not None and caller.token_ttl_seconds:
        ttl_seconds = caller.token_ttl_seconds
    try:
        issued = trading_service.exchange_token(
            keyring, caller, client_secret=client_secret, ttl_seconds=ttl_seconds
        )
    except InvalidClient:
        if (bare := quirks.bad_secret_answer(org_quirks)) is not None:
            return bare
        raise
    if is_form:
        return JSONResponse(
            {
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
            }
        )
    answer = TradingTokenRead(access_token=issued.access_token, expires_in=issued.expires_in)
    if org_quirks:
        return JSONResponse(quirks.token_answer(answer.model_dump(by_alias=True), org_quirks))
    return answer


# plant/list and plant/config are answered by the trading gate, through the same guard, query
# model and handler as here (voke_esm.sandbox.trading.pipeline): these routes declare them.


@router.get(
    "/plant/list",
    response_model=list[TradingPlantRead],
    **documented(
        "List the client's plants",
        Unauthorized,
        *_TRADING_ERRORS,
        examples.injected_fault("plant/list"),
        answer=examples.TRADING_PLANTS,
        dialect=BEARER_ERRORS,
    ),
)
async def list_plants(
    caller: Annotated[TradingCaller, guarded_caller("plant/list")], pipeline: TradingPipelineDep
) -> Response:
    """All fake plants of the authenticated client."""
    return await pipeline.plant_list(caller)


@router.get(
    "/plant/config",
    response_model=PlantConfigRead,
    **documented(
        "Read a plant's schedule and config version",
        ValidationFailed([{"field": "plantId", "message": "Field required"}]),
        Unauthorized,
        TradingPlantNotFound,
        *_TRADING_ERRORS,
        examples.injected_fault("plant/config"),
        answer=examples.PLANT_CONFIG,
        dialect=BEARER_ERRORS,
    ),
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
    **documented(
        "Push a schedule, or check it (validateOnly)",
        ValidationFailed(examples.UPDATE_SHAPE_ERRORS),
        Unauthorized,
        TradingPlantNotFound,
        *_TRADING_ERRORS,
        examples.injected_fault("plant/config/update"),
        request=examples.UPDATE_REQUEST,
        answer=examples.UPDATE_ANSWER,
        dialect=BEARER_ERRORS,
        description="A valid schedule is stored as the next version (`applied_ok`), or with "
        "`validateOnly: true` only checked (`cfg_accepted`); one that breaks a rule is "
        "`cfg_rejected` with an error at each field, as is any update of a plant whose "
        "`configEnabled` is false. Nothing but `applied_ok` stores anything. The same "
        "`configUpdateReqCode` sent again for the plant answers the first answer again. "
        "A body of the wrong shape is a 400.",
    ),
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
    call.time_configs = [block.as_json() for block in body.time_configs]
    answer = await trading_service.update_config(
        session,
        caller.client_id,
        plant_id=body.plant_id,
        config_update_req_code=body.config_update_req_code,
        validate_only=body.validate_only,
        time_configs=call.time_configs,
        comms_loss_possible=caller.comms_loss_possible,
        quirks=caller.quirks,
    )
    call.result_code, call.errors = answer["resultCode"], answer["errors"]
    metrics.config_updates.labels(answer["resultCode"]).inc()
    return answer
