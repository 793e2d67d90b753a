"""Publishing telemetry to RabbitMQ (CONTRACT §8): the topic exchange `vcp`, durable.

One connection per process, opened on the first publish and opened again on the first publish
after it broke, so that publishing resumes by itself when the broker is back. Every message is
persistent and confirmed by the broker. Nothing here ever raises into a request: an absent or
unreachable broker is an outcome, `published: false` with the reason, reached within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    # aio-pika (with aiormq and pamqp) is imported on the first publish to a configured broker,
    # not when the service starts: most processes have no AMQP_URL, and it is slow to load.
    from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

logger = logging.getLogger("voke_esm")

EXCHANGE: Final = "vcp"
CONNECT_TIMEOUT_S: Final = 2.0
CONFIRM_TIMEOUT_S: Final = 2.0

NOT_CONFIGURED: Final = "AMQP_URL is not set"
UNREACHABLE: Final = "broker unreachable"
LOGIN_REFUSED: Final = "broker refused the login of AMQP_URL"
NOT_CONFIRMED: Final = "broker did not confirm the message"


def routing_key(org_slug: str) -> str:
    return f"vcp.{org_slug}.event.telemetry"


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    published: bool
    reason: str | None = None


@dataclass(slots=True)
class _Link:
    connection: AbstractConnection
    channel: AbstractChannel
    exchange: AbstractExchange


class _PublishFailed(Exception):
    def __init__(self, reason: str, *, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry  # a link that was up just broke: one fresh link may do


class TelemetryPublisher:
    """Lazily connected; safe to share between concurrent requests of one event loop."""

    def __init__(self, url: str | None) -> None:
        self._url = url or None
        self._link: _Link | None = None
        self._connecting: asyncio.Task[_Link] | None = None

    @property
    def configured(self) -> bool:
        return self._url is not None

    async def publish(self, key: str, body: bytes) -> PublishOutcome:
        if self._url is None:
            return PublishOutcome(False, NOT_CONFIGURED)
        for attempt in (1, 2):
            try:
                await self._publish_once(key, body)
            except _PublishFailed as failure:
                if failure.retry and attempt == 1:
                    continue
                return PublishOutcome(False, failure.reason)
            return PublishOutcome(True)
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(BaseException):
                await self._connecting
        await self._drop()

    async def _publish_once(self, key: str, body: bytes) -> None:
        import aio_pika  # deferred: see the top of the module

        had_link = self._link is not None and not self._link.connection.is_closed
        link = await self._linked()
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            app_id="voke-esm-sandbox",
            type="event.telemetry",
        )
        try:
            async with asyncio.timeout(CONFIRM_TIMEOUT_S):
                # Not mandatory: a message no queue is bound for is still published (and dropped).
                await link.exchange.publish(message, routing_key=key, mandatory=False)
        except TimeoutError:
            self._warn("no confirmation within %.0f s", CONFIRM_TIMEOUT_S)
            await self._drop()
            raise _PublishFailed(UNREACHABLE, retry=False) from None
        except aio_pika.exceptions.DeliveryError:
            raise _PublishFailed(NOT_CONFIRMED, retry=False) from None
        except Exception as exc:  # the link broke under us: closed channel, reset socket, ...
            self._warn("publish failed: %s", self._describe(exc))
            await self._drop()
            raise _PublishFailed(UNREACHABLE, retry=had_link) from None

    async def _linked(self) -> _Link:
        if self._link is not None and not self._link.connection.is_closed:
            return self._link
        from aiormq.exceptions import ProbableAuthenticationError  # deferred: see the top

        await self._drop()
        if self._connecting is None:
            # One connection attempt at a time; concurrent publishers share its outcome.
            self._connecting = asyncio.create_task(self._connect(), name="telemetry connect")
            self._connecting.add_done_callback(self._connected)
        try:
            return await asyncio.shield(self._connecting)
        except ProbableAuthenticationError:
            raise _PublishFailed(LOGIN_REFUSED, retry=False) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._warn("cannot connect: %s", self._describe(exc))
            raise _PublishFailed(UNREACHABLE, retry=False) from None

    def _connected(self, task: asyncio.Task[_Link]) -> None:
        self._connecting = None
        if not task.cancelled() and task.exception() is None:
            self._link = task.result()

    async def _connect(self) -> _Link:
        import aio_pika  # deferred: see the top of the module

        assert self._url is not None
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            connection = await aio_pika.connect(self._url, timeout=CONNECT_TIMEOUT_S)
            try:
                channel = await connection.channel(publisher_confirms=True)
                exchange = await channel.declare_exchange(
                    EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
                )
            except BaseException:
                await _close_quietly(connection)
                raise
        logger.info("telemetry: connected to the AMQP broker at %s", self._where())
        return _Link(connection, channel, exchange)

    async def _drop(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await _close_quietly(link.connection)

    def _where(self) -> str:
        parts = urlsplit(self._url or "")
        return f"{parts.hostname or '?'}:{parts.port or 5672}"

    def _describe(self, exc: BaseException) -> str:
        """The error, fit for the log: AMQP_URL's password never appears in it."""
        text = f"{type(exc).__name__}: {exc}"
        password = urlsplit(self._url or "").password
        return text.replace(password, "***") if password else text

    def _warn(self, what: str, *args: object) -> None:
        logger.warning("telemetry: AMQP broker at %s: " + what, self._where(), *args)


async def _close_quietly(connection: AbstractConnection) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1):
            await connection.close()
