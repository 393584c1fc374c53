from __future__ import annotations

import subprocess
import sys

from computemoat.model.usage import UsageRecord
from computemoat.store import repo
from computemoat.store.commit import commit_rows
from computemoat.store.limits import Scope, set_limits
from computemoat.store.ratelimit import admit

T0 = 1_800_000_000.0  # a whole second, far from the real clock


def test_rpm_window_slides_and_retry_after_points_at_the_oldest_bucket(db):
    repo.create_tenant(db, "acme")
    set_limits(db, Scope("acme"), rpm=3)
    assert all(admit(db, "acme", 0, T0 + dt).status == 200 for dt in (0.1, 0.2, 10.5))
    refused = admit(db, "acme", 0, T0 + 30.0)
    assert refused.status == 429 and "3 requests per minute" in refused.message
    # The bucket of T0 is counted up to floor(now) - 60 == T0, i.e. until T0 + 61.
    assert refused.retry_after_s == 31.0
    assert admit(db, "acme", 0, T0 + 60.9).status == 429  # 60.8 s after the first: still inside
    assert admit(db, "acme", 0, T0 + 61.0).status == 200  # both T0 requests have left the window
    assert admit(db, "acme", 0, T0 + 61.5).status == 200
    assert admit(db, "acme", 0, T0 + 61.6).status == 429  # 10.5, 61.0, 61.5 fill it again


def test_tpm_counts_estimated_tokens_and_rejects_oversized_requests(db):
    repo.create_tenant(db, "acme")
    set_limits(db, Scope("acme"), tpm=1000)
    assert admit(db, "acme", 600, T0).status == 200
    over = admit(db, "acme", 500, T0 + 1)
    assert over.status == 429 and "tokens per minute" in over.message and over.retry_after_s == 60.0
    assert admit(db, "acme", 400, T0 + 1).status == 200
    huge = admit(db, "acme", 1001, T0 + 200)
    assert huge.status == 429 and "on their own" in huge.message and huge.retry_after_s is None


def test_unlimited_tenant_is_always_admitted_and_tenants_do_not_share_counters(db):
    for t in ("acme", "globex", "free"):
        repo.create_tenant(db, t)
    set_limits(db, Scope("acme"), rpm=1)
    set_limits(db, Scope("globex"), rpm=1)
    assert admit(db, "acme", 0, T0).status == 200
    assert admit(db, "globex", 0, T0).status == 200
    assert admit(db, "acme", 0, T0).status == 429
    assert all(admit(db, "free", 10**6, T0).status == 200 for _ in range(5))


def test_budget_exhausted_by_recorded_spend_refuses_with_402(db):
    repo.create_tenant(db, "acme")
    repo.set_price(db, "llama-70b", "*", 1.0, 3.0)  # USD per million tokens
    set_limits(db, Scope("acme"), budget_usd=0.01)
    row = UsageRecord("acme", "k", "llama-70b", "aws", "use1", "b", 1000, 3000, 5.0, 200, False, T0, "r1")
    commit_rows(db, [row])  # 0.001 + 0.009 = 0.010 USD
    refused = admit(db, "acme", 0, T0 + 1)
    assert refused.status == 402 and "monthly budget of $0.01" in refused.message
    assert admit(db, "acme", 0, T0 + 40 * 86400).status == 200  # next month starts from zero


_HAMMER = """
import sys, time
from computemoat.store import open_database
from computemoat.store.limits import Scope, set_limits
from computemoat.store.ratelimit import admit
url, n = sys.argv[1], int(sys.argv[2])
db = open_database(url)
print("ready", flush=True)
sys.stdin.readline()  # both processes start together
admitted = 0
for _ in range(n):  # paced like arriving requests, so the two processes interleave
    admitted += admit(db, "acme", 1).status == 200
    time.sleep(0.002)
print(admitted)
"""


def test_limit_is_exact_across_two_processes(db, db_url):
    """Two processes send 150 requests each against rpm=100 on the real clock: exactly 100 pass.
    (SQLite's busy handler is not fair, so unpaced the first process can take all 100.)"""
    repo.create_tenant(db, "acme")
    set_limits(db, Scope("acme"), rpm=100)
    procs = [
        subprocess.Popen([sys.executable, "-c", _HAMMER, db_url, "150"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    assert [p.stdout.readline() for p in procs] == ["ready\n", "ready\n"]  # type: ignore[union-attr]
    for p in procs:
        p.stdin.write("go\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
    admitted = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(admitted) == 100, admitted
    assert all(a > 0 for a in admitted), admitted  # both really raced
