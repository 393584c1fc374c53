"""Group commit of usage records: many concurrent requests, one transaction.

Each request hands its row to :meth:`GroupCommitWriter.write` and waits on an asyncio future. Rows
collect in a plain list on the event loop; the first row of a batch arms a ``linger_s`` timer (so a
burst lands in one batch and a busy gateway commits a few hundred times a second, not once per
request), and the whole list goes to one long-lived writer thread in a single hand-off. The thread
commits the batch in one transaction (``synchronous=FULL`` on SQLite, so the commit is fsynced) and
then makes *one* ``call_soon_threadsafe`` call that resolves every future of the batch. Rows that
arrive while a batch is committing form the next batch, handed over when both its linger is over and
the commit is back. Per record there is no thread hop and no executor job: only a list append and a
future; per batch, three statements compiled once per dialect and run through the driver, and the rows
themselves by ``COPY`` on PostgreSQL (``executemany`` of an ``INSERT`` on SQLite).

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
import json
import queue
import threading
from collections import defaultdict
from dataclasses import fields
from operator import attrgetter
from typing import Any

from sqlalchemy import ARRAY, Connection, String, any_, bindparam, column, func, select
from sqlalchemy.dialects import postgresql, sqlite

from computemoat.model.usage import UsageRecord
from computemoat.store.db import Database, write_tx
from computemoat.store.ratelimit import month_of
from computemoat.store.schema import MonthlySpend, Price, UsageRecordRow

USAGE_FIELDS = tuple(f.name for f in fields(UsageRecord))
USAGE_FIELDS_OF = attrgetter(*USAGE_FIELDS)  # any object with these attributes -> tuple, in C

_Waiter = tuple[UsageRecord, asyncio.Future[None]]


class GroupCommitWriter:
    def __init__(self, db: Database, *, linger_s: float = 0.002, max_batch: int = 5000) -> None:
        self._db = db
        self._linger_s = linger_s
        self._max_batch = max_batch
        self._pending: list[_Waiter] = []
        self._busy = False  # a batch is with the thread and not yet resolved
        self._ripe = False  # the pending batch has lingered long enough
        self._timer: asyncio.TimerHandle | None = None
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
        if len(self._pending) == 1:  # the first row of a batch: the batch closes linger_s from now
            self._ripe = False
            self._timer = loop.call_later(self._linger_s, self._linger_over)
        await fut  # cancelling this request does not remove its row from the batch

    async def aclose(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        if self._loop is None or self._thread is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._ripe = True
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

    def _linger_over(self) -> None:
        self._timer = None
        self._ripe = True
        self._hand_over()

    def _hand_over(self) -> None:
        """On the loop: give the pending rows (up to ``max_batch``) to the thread, if it is idle and the
        batch has lingered (or is full)."""
        if self._busy or not self._pending or not (self._ripe or len(self._pending) >= self._max_batch):
            return
        batch = self._pending[: self._max_batch]
        del self._pending[: self._max_batch]
        if self._pending:  # more than a full batch was waiting: the rest is as old, no new linger
            self._ripe = True
        elif self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
            self._hand_over()  # if that batch has lingered already; else its timer hands it over
        else:
            for idle in self._idle:
                if not idle.done():
                    idle.set_result(None)
            self._idle.clear()


def _build_statements(dialect: str) -> dict[str, Any]:
    """The batch's four statements as Core constructs (built and compiled once per dialect)."""
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)
    if dialect == "postgresql":  # one array parameter: the same statement text for any batch size
        ids: Any = any_(bindparam("ids", type_=ARRAY(String)))
        existing = select(UsageRecordRow.request_id).where(UsageRecordRow.request_id == ids)
    else:  # SQLite: the ids as one JSON array parameter
        ids = select(column("value")).select_from(func.json_each(bindparam("ids", type_=String)))
        existing = select(UsageRecordRow.request_id).where(UsageRecordRow.request_id.in_(ids))
    spend = ins(MonthlySpend).values({c: bindparam(c) for c in ("tenant_id", "month", "usd", "requests")})
    return {
        "existing": existing,
        "prices": select(Price.model, Price.provider, Price.usd_per_mtok_prompt, Price.usd_per_mtok_completion),
        "insert": ins(UsageRecordRow).values({c: bindparam(c) for c in (*USAGE_FIELDS, "cost_usd")})
        .on_conflict_do_nothing(index_elements=["request_id"]),
        "spend": spend.on_conflict_do_update(
            index_elements=["tenant_id", "month"],
            set_={"usd": MonthlySpend.usd + spend.excluded.usd,
                  "requests": MonthlySpend.requests + spend.excluded.requests},
        ),
    }


_SQL: dict[tuple[str, str], tuple[str, tuple[str, ...] | None]] = {}


def _driver(conn: Connection, name: str, params: Any, *, many: bool = False) -> Any:
    """Run statement ``name`` through the driver: SQL text compiled once per dialect, so a batch pays
    no per-statement or per-row SQLAlchemy work (that was most of a small batch's CPU)."""
    key = (conn.dialect.name, name)
    if key not in _SQL:
        compiled = _build_statements(conn.dialect.name)[name].compile(dialect=conn.dialect, for_executemany=many)
        _SQL[key] = (str(compiled), tuple(compiled.positiontup) if compiled.positional else None)
    sql, order = _SQL[key]
    if order is not None:
        params = [tuple(p[c] for c in order) for p in params] if many else tuple(params[c] for c in order)
    return conn.exec_driver_sql(sql, params)


_COPY_SQL = f"COPY {UsageRecordRow.__tablename__} ({', '.join((*USAGE_FIELDS, 'cost_usd'))}) FROM STDIN"


def _copy_rows(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL: stream ``rows`` into ``usage_records`` with COPY on the connection (and so in the
    transaction) of ``conn``. Per row this is one ``write_row`` in psycopg's C code, no statement."""
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(_COPY_SQL) as copy:
        for row in rows:
            copy.write_row(row)


def commit_rows(db: Database, rows: list[UsageRecord]) -> int:
    """Insert ``rows`` (skipping request ids already stored) and update monthly spend; one transaction.
    Returns how many rows were new. On PostgreSQL the rows go in by ``COPY``; elsewhere by one
    ``executemany`` of a Core ``INSERT ... ON CONFLICT DO NOTHING`` (sqlite3 loops in C), never ORM
    objects. COPY has no ``ON CONFLICT``: if another transaction stored one of the ids after this one
    looked (a unique violation), the transaction is rolled back and the batch is written again with
    the ``INSERT ... ON CONFLICT DO NOTHING`` path, so the result is the same as that path's."""
    unique = {r.request_id: r for r in rows}
    if db.durable_engine.dialect.name == "postgresql":
        from psycopg.errors import UniqueViolation

        try:
            return _commit_unique(db, unique, copy=True)
        except UniqueViolation:
            pass
    return _commit_unique(db, unique, copy=False)


def _commit_unique(db: Database, unique: dict[str, UsageRecord], *, copy: bool) -> int:
    ids: Any = list(unique)
    with write_tx(db, durable=True) as conn:
        if conn.dialect.name != "postgresql":
            ids = json.dumps(ids)
        existing = {rid for (rid,) in _driver(conn, "existing", {"ids": ids})}
        new = [r for rid, r in unique.items() if rid not in existing]
        if not new:
            return 0
        prices = {(m, p): (pu, cu) for m, p, pu, cu in _driver(conn, "prices", {})}
        values: list[Any] = []
        spend: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
        for r in new:
            p_usd, c_usd = prices.get((r.model, r.provider)) or prices.get((r.model, "*")) or (0.0, 0.0)
            cost_usd = (r.prompt_tokens * p_usd + r.completion_tokens * c_usd) / 1e6
            if copy:
                values.append((*USAGE_FIELDS_OF(r), cost_usd))
            else:
                row = dict(zip(USAGE_FIELDS, USAGE_FIELDS_OF(r), strict=True))
                row["cost_usd"] = cost_usd
                values.append(row)
            acc = spend[(r.tenant_id, month_of(r.time_unix_s))]
            acc[0] += cost_usd
            acc[1] += 1
        if copy:
            _copy_rows(conn, values)
        else:
            _driver(conn, "insert", values, many=True)
        _driver(conn, "spend", [{"tenant_id": t, "month": m, "usd": usd, "requests": int(n)}
                                for (t, m), (usd, n) in spend.items()], many=True)
    return len(new)
