"""Group commit of usage records: many concurrent requests, one transaction, and no waiting when
nothing else is.

Each request hands its row to :meth:`GroupCommitWriter.write` and waits on an asyncio future. If the
writer thread is idle the row goes to it at once (no linger: at concurrency 1 a record costs one
commit, not a timer plus a commit). Rows that arrive while a batch is committing collect in a plain
list on the event loop and go over together, in one hand-off, as soon as that commit is back: the
batch size follows the load by itself. The thread commits each batch in one transaction
(``synchronous=FULL`` on SQLite, so the commit is fsynced) and then makes *one*
``call_soon_threadsafe`` call that resolves every future of the batch. Per record there is no thread
hop of its own and no executor job: only a list append and a future; per batch, three statements
compiled once per dialect and run through the driver, and the rows themselves by ``COPY`` on
PostgreSQL (``executemany`` of an ``INSERT`` on SQLite).

Durability: a waiter returns only when its row is committed, so if the process is killed before the
commit no waiter was resolved and no client got its response. If the commit fails, every waiter of the
batch gets the exception (the gateway answers 5xx, so no unrecorded 200 exists). A cancelled waiter
does not take its row out of the batch.

The same transaction prices each row (``prices``: model+provider, else model+'*', else 0) and adds its
cost to ``daily_spend`` of its tenant and of its key, so budgets never disagree with the records. Token
counts are capped at ``TOKENS_MAX`` (a backend reporting 2^63 tokens is billed for 2^31 - 1, not a
failed commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import fields, replace
from operator import attrgetter
from typing import Any

from sqlalchemy import ARRAY, Connection, String, any_, bindparam, column, func, select
from sqlalchemy.dialects import postgresql, sqlite

from computemoat.model.usage import UsageRecord
from computemoat.store.db import Database, write_tx
from computemoat.store.limits import TOKENS_MAX, clamp_tokens, day_of
from computemoat.store.schema import DailySpend, Price, UsageRecordRow

USAGE_FIELDS = tuple(f.name for f in fields(UsageRecord))
USAGE_FIELDS_OF = attrgetter(*USAGE_FIELDS)  # any object with these attributes -> tuple, in C

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
        assert self._loop is not None
        while (batch := self._inbox.get()) is not None:
            error: BaseException | None = None
            spend: dict[tuple[str, str], float] = {}
            try:
                spend = commit_rows(self._db, [row for row, _ in batch])
            except Exception as exc:  # every waiter learns its record is not durable
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody waits
                self._loop.call_soon_threadsafe(self._resolve, batch, error, spend)

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


def _build_statements(dialect: str) -> dict[str, Any]:
    """The batch's four statements as Core constructs (built and compiled once per dialect)."""
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)
    if dialect == "postgresql":  # one array parameter: the same statement text for any batch size
        ids: Any = any_(bindparam("ids", type_=ARRAY(String)))
        existing = select(UsageRecordRow.request_id).where(UsageRecordRow.request_id == ids)
    else:  # SQLite: the ids as one JSON array parameter
        ids = select(column("value")).select_from(func.json_each(bindparam("ids", type_=String)))
        existing = select(UsageRecordRow.request_id).where(UsageRecordRow.request_id.in_(ids))
    spend = ins(DailySpend).values({c: bindparam(c) for c in ("tenant_id", "key_id", "day", "usd", "requests")})
    return {
        "existing": existing,
        "prices": select(Price.model, Price.provider, Price.usd_per_mtok_prompt, Price.usd_per_mtok_completion),
        "insert": ins(UsageRecordRow).values({c: bindparam(c) for c in (*USAGE_FIELDS, "cost_usd")})
        .on_conflict_do_nothing(index_elements=["request_id"]),
        "spend": spend.on_conflict_do_update(
            index_elements=["tenant_id", "key_id", "day"],
            set_={"usd": DailySpend.usd + spend.excluded.usd,
                  "requests": DailySpend.requests + spend.excluded.requests},
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
    assert raw is not None
    with raw.cursor() as cur, cur.copy(_COPY_SQL) as copy:
        for row in rows:
            copy.write_row(row)


_TAG_MAX = 64  # characters, as ``usage_records.tag``


def _storable(r: UsageRecord) -> UsageRecord:
    """``r`` with token counts in 0 ... TOKENS_MAX and a tag the column takes (cheap when it already is)."""
    if 0 <= r.prompt_tokens <= TOKENS_MAX and 0 <= r.completion_tokens <= TOKENS_MAX \
            and len(r.tag) <= _TAG_MAX and "\x00" not in r.tag:
        return r
    return replace(r, prompt_tokens=clamp_tokens(r.prompt_tokens), completion_tokens=clamp_tokens(r.completion_tokens),
                   tag=r.tag.replace("\x00", "")[:_TAG_MAX])


def commit_rows(db: Database, rows: list[UsageRecord]) -> dict[tuple[str, str], float]:
    """Insert ``rows`` (skipping request ids already stored) and update daily spend; one transaction.
    Returns the cost of the new rows per ``(tenant_id, key_id)``. On PostgreSQL the rows go in by
    ``COPY``; elsewhere by one
    ``executemany`` of a Core ``INSERT ... ON CONFLICT DO NOTHING`` (sqlite3 loops in C), never ORM
    objects. COPY has no ``ON CONFLICT``: if another transaction stored one of the ids after this one
    looked (a unique violation), the transaction is rolled back and the batch is written again with
    the ``INSERT ... ON CONFLICT DO NOTHING`` path, so the result is the same as that path's."""
    unique = {r.request_id: _storable(r) for r in rows}
    if db.durable_engine.dialect.name == "postgresql":
        from psycopg.errors import UniqueViolation

        try:
            return _commit_unique(db, unique, copy=True)
        except UniqueViolation:
            pass
    return _commit_unique(db, unique, copy=False)


def _commit_unique(db: Database, unique: dict[str, UsageRecord], *, copy: bool) -> dict[tuple[str, str], float]:
    ids: Any = list(unique)
    with write_tx(db, durable=True) as conn:
        if conn.dialect.name != "postgresql":
            ids = json.dumps(ids)
        existing = {rid for (rid,) in _driver(conn, "existing", {"ids": ids})}
        new = [r for rid, r in unique.items() if rid not in existing]
        if not new:
            return {}
        prices = {(m, p): (pu, cu) for m, p, pu, cu in _driver(conn, "prices", {})}
        values: list[Any] = []
        spend: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0])
        costs: dict[tuple[str, str], float] = defaultdict(float)
        for r in new:
            p_usd, c_usd = prices.get((r.model, r.provider)) or prices.get((r.model, "*")) or (0.0, 0.0)
            cost_usd = (r.prompt_tokens * p_usd + r.completion_tokens * c_usd) / 1e6
            if copy:
                values.append((*USAGE_FIELDS_OF(r), cost_usd))
            else:
                row = dict(zip(USAGE_FIELDS, USAGE_FIELDS_OF(r), strict=True))
                row["cost_usd"] = cost_usd
                values.append(row)
            costs[(r.tenant_id, r.key_id)] += cost_usd
            day = day_of(r.time_unix_s)
            for key_id in ("", r.key_id) if r.key_id else ("",):  # the tenant's spend and its key's
                acc = spend[(r.tenant_id, key_id, day)]
                acc[0] += cost_usd
                acc[1] += 1
        if copy:
            _copy_rows(conn, values)
        else:
            _driver(conn, "insert", values, many=True)
        _driver(conn, "spend", [{"tenant_id": t, "key_id": k, "day": d, "usd": usd, "requests": int(n)}
                                for (t, k, d), (usd, n) in spend.items()], many=True)
    return dict(costs)
