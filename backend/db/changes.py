"""Hear about committed writes from any process: PostgreSQL LISTEN on the `tft_changes` channel.

Migration 0012 puts a statement-level trigger on every table but `UNWATCHED_TABLES`; it sends
`NOTIFY tft_changes, '<table>'`, which PostgreSQL delivers to every listener when the writing transaction
commits (never for a rollback). The API's response cache drops its answers on each notice, so a write by
a worker, the CLI or an operator in psql is seen at once without polling.

A listener that lost its connection may have missed notices: it reports `live=False` at once, and
`live=True` only after it listens again, so its user can stop trusting what it kept in between. It goes
live only once it has checked that the triggers exist and that a test notice comes back (a pooler in
transaction mode accepts LISTEN and never delivers). A connection that dies silently (a half-open TCP
link) is found by a ping every `ping_seconds`.

Writes that bypass triggers (`session_replication_role = replica`, as `pg_restore --disable-triggers`
and logical replication set it) send no notice: restart the API after such a load.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine.url import make_url

log = logging.getLogger(__name__)

CHANNEL = "tft_changes"
APPLICATION_NAME = "tft-change-listener"  # how its connection shows in pg_stat_activity
PROBE = "__probe__:"  # payloads a listener sends itself to check the channel; not a table
# No answer the API caches reads these, and they are written on every read (an API key's last use) or
# every few minutes (the heartbeat's run): watching them would empty the cache for nothing.
UNWATCHED_TABLES = frozenset({"api_keys", "pipeline_runs"})


def supports_notify(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _connect_args(url: str) -> dict[str, Any]:
    """asyncpg.connect() arguments as the engine builds them (`ssl=...` included, which asyncpg would
    send to the server as a setting if it were left in a DSN)."""
    parsed = make_url(url).set(drivername="postgresql+asyncpg")
    _, kwargs = parsed.get_dialect()().create_connect_args(parsed)
    return dict(kwargs)


class NotListening(Exception):
    """The channel does not work here (migration 0012 missing, or a pooler that drops LISTEN)."""


def _closed(lost: asyncio.Event, _conn: object) -> None:
    lost.set()


class ChangeListener:
    """One dedicated connection listening on `CHANNEL`, reconnecting with backoff until `stop()`.

    `on_change(table)` runs for each notice; `on_live(bool)` when listening starts (True) or the
    connection is lost (False). Both run on the event loop and must not block.
    """

    def __init__(
        self,
        url: str,
        *,
        on_change: Callable[[str], None],
        on_live: Callable[[bool], None],
        ping_seconds: float = 10.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self._connect_args = _connect_args(url)
        self._on_change, self._on_live = on_change, on_live
        self._ping_seconds, self._max_backoff = ping_seconds, max_backoff_seconds
        self._task: asyncio.Task[None] | None = None
        self._probes: dict[str, asyncio.Event] = {}
        self.live = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tft-change-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _set_live(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            self._on_live(live)

    def _notice(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith(PROBE):
            probe = self._probes.pop(payload, None)
            if probe is not None:
                probe.set()
            return
        self._on_change(payload)

    async def _check(self, conn: asyncpg.Connection) -> None:
        """The triggers exist and a notice sent now comes back on this connection; else NotListening."""
        triggers = await conn.fetchval(
            "SELECT count(*) FROM pg_trigger WHERE tgname = $1 AND NOT tgisinternal", CHANNEL
        )
        if not triggers:
            raise NotListening("no change triggers in this database: run `tft-trader db upgrade`")
        payload = f"{PROBE}{uuid.uuid4().hex}"
        heard = self._probes[payload] = asyncio.Event()
        try:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
            await asyncio.wait_for(heard.wait(), self._ping_seconds)
        except TimeoutError:
            raise NotListening(
                "a test notice never came back (a connection pooler in transaction mode drops LISTEN: "
                "give the API a direct connection)"
            ) from None
        finally:
            self._probes.pop(payload, None)

    async def _run(self) -> None:
        failures = 0
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    **self._connect_args, timeout=10, server_settings={"application_name": APPLICATION_NAME}
                )
                lost = asyncio.Event()
                conn.add_termination_listener(functools.partial(_closed, lost))
                await conn.add_listener(CHANNEL, self._notice)
                await self._check(conn)
                failures = 0
                self._set_live(True)
                log.info("listening for database changes on %s", CHANNEL)
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._ping_seconds)
                    if not lost.is_set():
                        await conn.fetchval("SELECT 1", timeout=self._ping_seconds)
                raise ConnectionError("the listening connection closed")
            except asyncio.CancelledError:
                self._set_live(False)
                raise
            except Exception as exc:
                self._set_live(False)
                failures += 1
                delay = min(self._max_backoff, 0.5 * 2 ** min(failures, 10)) * random.uniform(0.5, 1.0)
                log.warning("database change listener lost (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
