from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import func, select, text

from computemoat.model.usage import UsageRecord
from computemoat.store import open_database, repo
from computemoat.store.schema import DailySpend
from computemoat.store.usage import month_bounds_unix_s, stored_request_ids, usage_by_model
from computemoat.store.writer import GroupCommitWriter

T0 = month_bounds_unix_s("2026-11")[0] + 3600.0


def _row(i: int, *, tenant: str = "acme", model: str = "llama-70b", provider: str = "aws") -> UsageRecord:
    return UsageRecord(tenant, "key_1", model, provider, "use1", "aws-use1", 100, 50, 12.5, 200, i % 2 == 0,
                    T0 + i, f"req-{tenant}-{i}")


async def _write_all(db, rows: list[UsageRecord]) -> GroupCommitWriter:  # type: ignore[no-untyped-def]
    writer = GroupCommitWriter(db)
    await asyncio.gather(*(writer.write(r) for r in rows))
    await writer.aclose()
    return writer


def test_concurrent_writes_are_grouped_and_all_committed(db):
    rows = [_row(i) for i in range(400)]
    writer = asyncio.run(_write_all(db, rows))
    assert writer.rows_committed == 400
    assert writer.batches_committed < 40  # group commit: far fewer transactions than records
    assert stored_request_ids(db, [r.request_id for r in rows]) == {r.request_id for r in rows}


def test_rows_are_priced_and_summed_by_model_and_provider(db):
    repo.create_tenant(db, "acme")
    repo.set_price(db, "llama-70b", "*", 1.0, 2.0)
    repo.set_price(db, "llama-70b", "gcp", 10.0, 20.0)
    rows = [_row(i) for i in range(3)] + [_row(10 + i, provider="gcp") for i in range(2)]
    rows += [_row(20, model="unpriced"), _row(30, tenant="globex")]
    asyncio.run(_write_all(db, rows))
    lines = usage_by_model(db, "acme", "2026-11")
    assert [(x.model, x.provider, x.requests, x.prompt_tokens, x.completion_tokens) for x in lines] == [
        ("llama-70b", "aws", 3, 300, 150), ("llama-70b", "gcp", 2, 200, 100), ("unpriced", "aws", 1, 100, 50),
    ]
    assert [x.cost_usd for x in lines] == pytest.approx([3 * 200e-6, 2 * 2000e-6, 0.0])
    assert usage_by_model(db, "acme", "2026-10") == []
    with db.engine.connect() as conn:
        spend = conn.execute(select(func.sum(DailySpend.usd), func.sum(DailySpend.requests))
                             .where(DailySpend.tenant_id == "acme", DailySpend.key_id == "")).one()
    assert spend[0] == pytest.approx(sum(x.cost_usd for x in lines)) and spend[1] == 6


def test_rewriting_a_request_id_is_idempotent(db):
    repo.create_tenant(db, "acme")
    asyncio.run(_write_all(db, [_row(1), _row(1), _row(2)]))
    asyncio.run(_write_all(db, [_row(1)]))
    (line,) = usage_by_model(db, "acme", "2026-11")
    assert line.requests == 2


def test_failed_commit_fails_every_waiter_of_the_batch(db):
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE usage_records"))

    async def go() -> list[object]:
        writer = GroupCommitWriter(db)
        results = await asyncio.gather(*(writer.write(_row(i)) for i in range(5)), return_exceptions=True)
        await writer.aclose()
        return results

    results = asyncio.run(go())
    assert all(isinstance(r, Exception) for r in results)


_WRITER = """
import asyncio, sys, time
from computemoat.store import open_database
from computemoat.model.usage import UsageRecord
from computemoat.store.writer import GroupCommitWriter

async def main():
    writer = GroupCommitWriter(open_database(sys.argv[1]))
    async def one(i):
        await writer.write(UsageRecord("acme", "k", "m", "p", "s", "b", 1, 1, 1.0, 200, False, time.time(), f"r{i}"))
        print(f"r{i}", flush=True)  # acknowledged: the client would now have its 200
    i = 0
    while True:
        await asyncio.gather(*(one(i + j) for j in range(50)))
        i += 50
asyncio.run(main())
"""


def test_every_acknowledged_record_survives_sigkill(db, db_url):
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, db_url], stdout=subprocess.PIPE, text=True)
    acked: list[str] = []
    assert proc.stdout is not None
    while len(acked) < 2000:
        line = proc.stdout.readline()
        assert line, "writer process died"
        acked.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)  # mid-stream: more batches are in flight
    acked += [line.strip() for line in proc.stdout]
    proc.wait()
    fresh = open_database(db_url)  # as a restarted gateway would
    try:
        assert stored_request_ids(fresh, acked) == set(acked)
    finally:
        fresh.dispose()


def test_a_lone_row_goes_to_the_writer_at_once_and_rows_arriving_meanwhile_form_one_batch(db):
    """No linger: with nothing committing, a row is handed over in the same loop turn; rows that come
    while that commit runs go together as the next batch (issue 15: commit at once, batch the rest)."""
    repo.create_tenant(db, "acme")

    async def go() -> tuple[int, int, int]:
        writer = GroupCommitWriter(db)
        first = asyncio.ensure_future(writer.write(_row(0)))
        await asyncio.sleep(0)  # one turn of the loop, no timer
        handed_over = writer.in_flight
        rest = [asyncio.ensure_future(writer.write(_row(i))) for i in range(1, 31)]
        await asyncio.gather(first, *rest)
        await writer.aclose()
        return handed_over, writer.batches_committed, writer.rows_committed

    handed_over, batches, rows = asyncio.run(go())
    assert handed_over == 1 and rows == 31
    assert batches == 2  # the lone row, then the 30 that queued behind its commit
