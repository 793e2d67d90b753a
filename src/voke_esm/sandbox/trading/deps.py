"""The trading pipeline as FastAPI dependencies, for the routes that FastAPI resolves: the token
exchange and config/update always, plant/list and plant/config when the gate leaves them to it
(`voke_esm.sandbox.trading.pipeline`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from voke_esm.sandbox.services import SandboxServicesDep
from voke_esm.sandbox.trading.callers import TradingCaller
from voke_esm.sandbox.trading.journal import TradingCall, trading_call
from voke_esm.sandbox.trading.pipeline import TradingPipeline, trading_bearer


async def _pipeline(services: SandboxServicesDep) -> TradingPipeline:
    return services.trading_pipeline


TradingPipelineDep = Annotated[TradingPipeline, Depends(_pipeline)]
TradingCallDep = Annotated[TradingCall, Depends(trading_call)]


def guarded_caller(endpoint: str) -> object:
    """The pipeline's guard for a bearer endpoint, as a dependency. `trading_bearer` is declared
    so that OpenAPI documents the scheme; the guard reads the same header itself."""

    async def dependency(
        request: Request,
        pipeline: TradingPipelineDep,
        _: Annotated[object, Depends(trading_bearer)],
    ) -> TradingCaller:
        if endpoint == "plant/config":
            caller, _query = await pipeline.guard_plant_config(request)
            return caller  # FastAPI answers a refused query itself, after this, as the gate does
        return await pipeline.guard_bearer(request, endpoint)

    return Depends(dependency)
