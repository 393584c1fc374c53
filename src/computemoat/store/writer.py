"""Group commit of usage records: many concurrent requests, one transaction.

Each request hands its row to :meth:`GroupCommitWriter.write` and waits on an asyncio future. Rows
collect in a plain list on the event loop; when the writer is idle the first row arms a ``linger_s``
timer (so a burst lands in one batch), and the whole list goes to one long-lived writer thread in a
single hand-off. The thread commits the batch in one transaction (``synchronous=FULL`` on SQLite, so
the commit is fsynced) and then makes *one* ``call_soon_threadsafe`` call that resolves every future
of the batch. Rows that arrive while a batch is committing form the next batch, handed over as soon as
the commit is back (they have already waited, so no linger). Per record there is no thread hop and no
executor job: only a list append and a future.

Durability: a waiter returns only when its row is committed, so if the process is killed before the
commit no waiter was resolved and no client got its response. If the commit fails, every waiter of the
batch gets the exception (the gateway answers 5xx, so no unrecorded 200 exists). A cancelled waiter
does not take its row out of the batch.

The same transaction prices each row (``prices``: model+provider, else model+'*', else 0) and adds its
cost to ``monthly_spend``, so budgets never disagree with the records.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections import defaultdict
from dataclasses import dataclass, fields
from operator import attrgetter

from sqlalchemy import ARRAY, Connection, String, any_, bindparam, select

from computemoat.store.db import Database, write_tx
from computemoat.store.ratelimit import month_of
from computemoat.store.schema import MonthlySpend, Price, UsageRecordRow
from computemoat.store.upsert import insert_for


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Same fields as the gateway's ``hooks.UsageRecord``: ``UsageRow(*USAGE_FIELDS_OF(rec))``."""

    tenant_id: str
    key_id: str
    model: str
    provider: str
    site: str
    backend: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    status: int
    streamed: bool
    time_unix_s: float
    request_id: str


USAGE_FIELDS = tuple(f.name for f in fields(UsageRow))
USAGE_FIELDS_OF = attrgetter(*USAGE_FIELDS)  # any object with these attributes -> tuple, in C

_Waiter = tuple[UsageRow, asyncio.Future[None]]


class GroupCommitWriter:
    def __init__(self, db: Database, *, linger_s: float = 0.002, max_batch: int = 5000) -> None:
        self._db = db
        self._linger_s = linger_s
        self._max_batch = max_batch
        self._pending: list[_Waiter] = []
        self._busy = False  # a batch is with the thread and not yet resolved
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: queue.SimpleQueue[list[_Waiter] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._idle: list[asyncio.Future[None]] = []  # aclose() waiting for the last batch
        self.batches_committed = 0
        self.rows_committed = 0

    async def write(self, row: UsageRow) -> None:
        """Return once ``row`` is committed; raise if its batch failed to commit."""
        loop = self._loop
        if loop is None:
            loop = self._start()
        fut = loop.create_future()
        self._pending.append((row, fut))
        if not self._busy and self._timer is None:
            self._timer = loop.call_later(self._linger_s, self._hand_over)
        await fut  # cancelling this request does not remove its row from the batch

    async def aclose(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        if self._loop is None or self._thread is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
        self._timer = None
        if self._busy or not self._pending:
            return
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        self._busy = True
        self._inbox.put(batch)

    def _thread_main(self) -> None:
        assert self._loop is not None
        while (batch := self._inbox.get()) is not None:
            error: BaseException | None = None
            try:
                commit_rows(self._db, [row for row, _ in batch])
            except Exception as exc:  # every waiter learns its record is not durable
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody waits
                self._loop.call_soon_threadsafe(self._resolve, batch, error)

    def _resolve(self, batch: list[_Waiter], error: BaseException | None) -> None:
        """On the loop, once per batch: wake every waiter, then hand over what queued meanwhile."""
        self._busy = False
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
            self._hand_over()
        else:
            for idle in self._idle:
                if not idle.done():
                    idle.set_result(None)
            self._idle.clear()


_INSERT_SQL: dict[str, tuple[str, tuple[str, ...] | None]] = {}


def _insert_usage(conn: Connection, values: list[dict[str, object]]) -> None:
    """``executemany`` of the Core ``INSERT ... ON CONFLICT DO NOTHING``, compiled once per dialect and
    handed to the driver as is: SQLAlchemy's per-row parameter processing was most of a batch's cost."""
    name = conn.dialect.name
    if name not in _INSERT_SQL:
        compiled = insert_for(conn, UsageRecordRow).values({c: bindparam(c) for c in values[0]}) \
            .on_conflict_do_nothing(index_elements=["request_id"]).compile(dialect=conn.dialect, for_executemany=True)
        _INSERT_SQL[name] = (str(compiled), tuple(compiled.positiontup) if compiled.positional else None)
    sql, order = _INSERT_SQL[name]
    conn.exec_driver_sql(sql, [tuple(v[c] for c in order) for v in values] if order else values)


def _existing_ids(conn: Connection, request_ids: list[str]) -> set[str]:
    if conn.dialect.name == "postgresql":  # one array parameter: the same statement text for any batch size
        stmt = select(UsageRecordRow.request_id).where(
            UsageRecordRow.request_id == any_(bindparam("ids", type_=ARRAY(String)))
        )
        return set(conn.execute(stmt, {"ids": request_ids}).scalars())
    return set(conn.execute(
        select(UsageRecordRow.request_id).where(UsageRecordRow.request_id.in_(request_ids))
    ).scalars())


def commit_rows(db: Database, rows: list[UsageRow]) -> int:
    """Insert ``rows`` (skipping request ids already stored) and update monthly spend; one transaction.
    Returns how many rows were new. The insert is a Core ``executemany`` of one statement text (psycopg
    pipelines it; sqlite3 loops in C), never ORM objects."""
    unique = {r.request_id: r for r in rows}
    with write_tx(db, durable=True) as conn:
        existing = _existing_ids(conn, list(unique))
        new = [r for rid, r in unique.items() if rid not in existing]
        if not new:
            return 0
        models = sorted({r.model for r in new})
        prices = {
            (p.model, p.provider): (p.usd_per_mtok_prompt, p.usd_per_mtok_completion)
            for p in conn.execute(select(Price.model, Price.provider, Price.usd_per_mtok_prompt,
                                         Price.usd_per_mtok_completion).where(Price.model.in_(models)))
        }
        values = []
        spend: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
        for r in new:
            p_usd, c_usd = prices.get((r.model, r.provider)) or prices.get((r.model, "*")) or (0.0, 0.0)
            cost_usd = (r.prompt_tokens * p_usd + r.completion_tokens * c_usd) / 1e6
            row = dict(zip(USAGE_FIELDS, USAGE_FIELDS_OF(r), strict=True))
            row["cost_usd"] = cost_usd
            values.append(row)
            acc = spend[(r.tenant_id, month_of(r.time_unix_s))]
            acc[0] += cost_usd
            acc[1] += 1
        _insert_usage(conn, values)
        stmt = insert_for(conn, MonthlySpend)
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant_id", "month"],
            set_={"usd": MonthlySpend.usd + stmt.excluded.usd,
                  "requests": MonthlySpend.requests + stmt.excluded.requests},
        )
        conn.execute(stmt, [
            {"tenant_id": t, "month": m, "usd": usd, "requests": int(n)} for (t, m), (usd, n) in spend.items()
        ])
    return len(new)
