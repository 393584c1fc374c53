"""Group commit of usage records: many concurrent requests, one transaction.

Each request hands its row to :meth:`GroupCommitWriter.write` and waits. One background task takes
everything queued (after lingering ``linger_s`` so a burst lands in one batch), commits it in a single
transaction on a dedicated thread (``synchronous=FULL`` on SQLite, so the commit is fsynced), and only
then resolves every waiter. A waiter therefore returns only when its row is durable: if the process is
killed before the commit, no waiter was resolved and no client got its response. If the commit fails,
every waiter of the batch gets the exception (the gateway answers 5xx, so no unrecorded 200 exists).

The same transaction prices each row (``prices``: model+provider, else model+'*', else 0) and adds its
cost to ``monthly_spend``, so budgets never disagree with the records.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from sqlalchemy import select

from computemoat.store.db import Database, write_tx
from computemoat.store.ratelimit import month_of
from computemoat.store.schema import MonthlySpend, Price, UsageRecordRow
from computemoat.store.upsert import insert_for


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Same fields as the gateway's ``hooks.UsageRecord`` (``UsageRow(**asdict(rec))``)."""

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


_STOP = object()


class GroupCommitWriter:
    def __init__(self, db: Database, *, linger_s: float = 0.002, max_batch: int = 5000) -> None:
        self._db = db
        self._linger_s = linger_s
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[object, asyncio.Future[None] | None]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="usage-writer")
        self.batches_committed = 0
        self.rows_committed = 0

    async def write(self, row: UsageRow) -> None:
        """Return once ``row`` is committed; raise if its batch failed to commit."""
        if self._queue is None or self._task is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run(), name="usage-group-commit")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((row, fut))
        await asyncio.shield(fut)  # a cancelled request must not cancel its already queued write

    async def aclose(self) -> None:
        """Commit what is queued, then stop."""
        if self._queue is not None and self._task is not None:
            self._queue.put_nowait((_STOP, None))
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            batch = [await self._queue.get()]
            if self._linger_s > 0 and batch[0][0] is not _STOP:
                await asyncio.sleep(self._linger_s)
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            stopping = any(item is _STOP for item, _ in batch)
            work = [(item, fut) for item, fut in batch if item is not _STOP]
            if not work:
                continue
            rows = [item for item, _ in work]
            try:
                await loop.run_in_executor(self._executor, commit_rows, self._db, rows)
            except Exception as exc:  # every waiter learns its record is not durable
                for _, fut in work:
                    if fut is not None and not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches_committed += 1
            self.rows_committed += len(rows)
            for _, fut in work:
                if fut is not None and not fut.done():
                    fut.set_result(None)


def commit_rows(db: Database, rows: list[UsageRow]) -> int:  # type: ignore[type-arg]
    """Insert ``rows`` (skipping request ids already stored) and update monthly spend; one transaction.
    Returns how many rows were new."""
    unique = {r.request_id: r for r in rows}
    with write_tx(db, durable=True) as conn:
        existing = set(conn.execute(
            select(UsageRecordRow.request_id).where(UsageRecordRow.request_id.in_(list(unique)))
        ).scalars())
        new = [r for rid, r in unique.items() if rid not in existing]
        if not new:
            return 0
        models = sorted({r.model for r in new})
        prices = {
            (p.model, p.provider): (p.usd_per_mtok_prompt, p.usd_per_mtok_completion)
            for p in conn.execute(select(Price).where(Price.model.in_(models)))
        }
        values = []
        spend: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
        for r in new:
            p_usd, c_usd = prices.get((r.model, r.provider)) or prices.get((r.model, "*")) or (0.0, 0.0)
            cost_usd = (r.prompt_tokens * p_usd + r.completion_tokens * c_usd) / 1e6
            values.append({**asdict(r), "cost_usd": cost_usd})
            acc = spend[(r.tenant_id, month_of(r.time_unix_s))]
            acc[0] += cost_usd
            acc[1] += 1
        conn.execute(
            insert_for(conn, UsageRecordRow).on_conflict_do_nothing(index_elements=["request_id"]), values
        )
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
