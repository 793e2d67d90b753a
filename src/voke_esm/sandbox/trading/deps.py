"""The trading pipeline as FastAPI dependencies, for the routes that FastAPI resolves: the token
exchange and config/update always, plant/list and plant/config when the gate leaves them to it
(`voke_esm.sandbox.trading.pipeline`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2

from voke_esm.sandbox.services import SandboxServicesDep
from voke_esm.sandbox.trading.callers import TradingCaller
from voke_esm.sandbox.trading.journal import TradingCall, trading_call
from voke_esm.sandbox.trading.pipeline import TradingPipeline, trading_bearer


async def _pipeline(services: SandboxServicesDep) -> TradingPipeline:
    return services.trading_pipeline


TradingPipelineDep = Annotated[TradingPipeline, Depends(_pipeline)]
TradingCallDep = Annotated[TradingCall, Depends(trading_call)]


# The token exchange as OAuth2's client-credentials flow, so that /docs' "Authorize" gets a
# trading token itself from a clientId and secret (CONTRACT §6: the endpoint takes the form).
trading_client_credentials = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl="/api/v1/voke-esm/trading/token", scopes={}
        )
    ),
    scheme_name="TradingClient",
    description="the clientId and clientSecret that enabling an org answered: Authorize "
    "exchanges them for a trading token at POST /api/v1/voke-esm/trading/token",
    auto_error=False,
)


def guarded_caller(endpoint: str) -> object:
    """The pipeline's guard for a bearer endpoint, as a dependency. `trading_bearer` and
    `trading_client_credentials` are declared so that OpenAPI documents the two ways to
    authorize (either will do); the guard reads the header itself."""

    async def dependency(
        request: Request,
        pipeline: TradingPipelineDep,
        _: Annotated[object, Depends(trading_bearer)],
        __: Annotated[object, Security(trading_client_credentials)],
    ) -> TradingCaller:
        if endpoint == "plant/config":
            caller, _query = await pipeline.guard_plant_config(request)
            return caller  # FastAPI answers a refused query itself, after this, as the gate does
        return await pipeline.guard_bearer(request, endpoint)

    return Depends(dependency)
