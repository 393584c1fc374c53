"""Group commit of usage records: many concurrent requests, one transaction, and no waiting when
nothing else is.

Each request hands its row to :meth:`GroupCommitWriter.write` and waits on an asyncio future. If the
writer thread is idle the row goes to it at once (no linger: at concurrency 1 a record costs one
commit, not a timer plus a commit). Rows that arrive while a batch is committing collect in a plain
list on the event loop and go over together, in one hand-off, as soon as that commit is back: the
batch size follows the load by itself. The thread commits each batch in one transaction
(``synchronous=FULL`` on SQLite, so the commit is fsynced) and then makes *one*
``call_soon_threadsafe`` call that resolves every future of the batch. Per record there is no thread
hop of its own and no executor job: only a list append and a future; per batch, one transaction on
the thread's own long-lived connection (``store.commit``: one statement, one round trip, on
PostgreSQL).

Durability: a waiter returns only when its row is committed, so if the process is killed before the
commit no waiter was resolved and no client got its response. If the commit fails, every waiter of the
batch gets the exception (the gateway answers 5xx, so no unrecorded 200 exists). A cancelled waiter
does not take its row out of the batch.

The same transaction prices each row and adds its cost to ``daily_spend`` of its tenant and of its
key, so budgets never disagree with the records (``store.commit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable

from sqlalchemy import Connection

from computemoat.model.usage import UsageRecord
from computemoat.store.commit import commit_rows_on
from computemoat.store.db import Database

_Waiter = tuple[UsageRecord, asyncio.Future[None]]


class GroupCommitWriter:
    def __init__(self, db: Database, *, max_batch: int = 5000,
                 on_spend: Callable[[dict[tuple[str, str], float]], None] | None = None) -> None:
        """``on_spend`` runs on the event loop after each commit with the batch's new cost per
        ``(tenant_id, key_id)`` (so a process can hold a budget verdict without re-reading it)."""
        self._db = db
        self._on_spend = on_spend
        self._max_batch = max_batch
        self._pending: list[_Waiter] = []
        self._busy = False  # a batch is with the thread and not yet resolved
        self._in_flight = 0  # rows of that batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: queue.SimpleQueue[list[_Waiter] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._idle: list[asyncio.Future[None]] = []  # aclose() waiting for the last batch
        self.batches_committed = 0
        self.rows_committed = 0

    async def write(self, row: UsageRecord) -> None:
        """Return once ``row`` is committed; raise if its batch failed to commit."""
        loop = self._loop
        if loop is None:
            loop = self._start()
        fut = loop.create_future()
        self._pending.append((row, fut))
        if not self._busy:  # nothing is committing: this row goes now, with whatever queued with it
            self._hand_over()
        await fut  # cancelling this request does not remove its row from the batch

    @property
    def in_flight(self) -> int:
        """Rows handed to the writer thread whose commit has not come back yet."""
        return self._in_flight

    async def aclose(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        if self._loop is None or self._thread is None:
            return
        self._hand_over()
        while self._busy or self._pending:
            idle = self._loop.create_future()
            self._idle.append(idle)
            await idle
        self._inbox.put(None)
        await asyncio.to_thread(self._thread.join)

    def _start(self) -> asyncio.AbstractEventLoop:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._thread_main, name="usage-writer", daemon=True)
        self._thread.start()
        return self._loop

    def _hand_over(self) -> None:
        """On the loop: give the pending rows (up to ``max_batch``) to the thread, if it is idle."""
        if self._busy or not self._pending:
            return
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        self._busy = True
        self._in_flight = len(batch)
        self._inbox.put(batch)

    def _thread_main(self) -> None:
        """The writer thread: one connection for as long as it works (a new one after a failure)."""
        assert self._loop is not None
        conn: Connection | None = None
        while (batch := self._inbox.get()) is not None:
            error: BaseException | None = None
            spend: dict[tuple[str, str], float] = {}
            try:
                if conn is None:
                    conn = self._db.durable_engine.connect()
                spend = commit_rows_on(conn, [row for row, _ in batch])
            except Exception as exc:  # every waiter learns its record is not durable
                error = exc
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                    conn = None
            with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody waits
                self._loop.call_soon_threadsafe(self._resolve, batch, error, spend)
        if conn is not None:
            conn.close()

    def _resolve(self, batch: list[_Waiter], error: BaseException | None, spend: dict[tuple[str, str], float]) -> None:
        """On the loop, once per batch: wake every waiter, then hand over what queued meanwhile."""
        self._busy = False
        self._in_flight = 0
        if spend and self._on_spend is not None:
            self._on_spend(spend)
        if error is None:
            self.batches_committed += 1
            self.rows_committed += len(batch)
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)
        else:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(error)
        if self._pending:
            self._hand_over()  # what arrived during that commit goes now, as one batch
        else:
            for idle in self._idle:
                if not idle.done():
                    idle.set_result(None)
            self._idle.clear()


