"""What the sandbox's routes reach of what `create_app` builds once (see voke_esm.core.services)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from voke_esm.core.services import CoreServices, services_of
from voke_esm.sandbox.telemetry.publisher import TelemetryPublisher
from voke_esm.sandbox.trading.callers import TradingCallers
from voke_esm.sandbox.trading.journal import JournalRecorder
from voke_esm.sandbox.trading.pipeline import TradingPipeline
from voke_esm.sandbox.trading.service import PlantReads


@dataclass(frozen=True, kw_only=True)
class SandboxServices(CoreServices):
    trading_callers: TradingCallers
    plant_reads: PlantReads
    journal: JournalRecorder
    trading_pipeline: TradingPipeline
    telemetry_publisher: TelemetryPublisher


async def sandbox_services(request: Request) -> SandboxServices:
    return services_of(request.app, SandboxServices)


SandboxServicesDep = Annotated[SandboxServices, Depends(sandbox_services)]
