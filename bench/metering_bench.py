"""Gateway throughput and added latency with tenancy + durable metering on vs off, SQLite and
PostgreSQL, at several concurrencies, in one run.

Same mock backend, same request, same wrk load (one thread, on CPU 1; gateway and mock on CPU 0, as in
gateway_bench.py). "off" is `computemoat serve` without a database; "on" authenticates a real API key
(cached) and commits one usage record per request before answering (fsynced on SQLite:
``synchronous=FULL``; PostgreSQL's ``synchronous_commit=on``); "on + limits" also gives the tenant an
rpm and a tpm limit (never reached) and a budget with a soft alert (never reached), so each request
goes through the shared limiter's leases and the budget verdict. Configurations alternate over
--rounds; each cell is the median round; "vs off" is req/s over off's at the same concurrency, "+p50"
the median latency added over off's.

    .venv/bin/python bench/metering_bench.py [--seconds 4] [--rounds 3] [--concurrency 1,16,64]
                                             [--baseline-rev REV]

--baseline-rev REV also runs every metered configuration on the tenancy/metering code of git revision
REV ("(REV)" rows): a copy of today's src/ with src/computemoat/store/ and gateway/tenancy.py taken
from REV, so before and after share the rest of the gateway and are measured in the same rounds.

PostgreSQL runs when $COMPUTEMOAT_TEST_PG_URL is set (`eval "$(.ci/postgres.sh)"`); its server is not
pinned, so it shares CPU 1 with wrk. "records" is the usage rows stored for the target over the whole
run, "answered" the 2xx responses wrk counted: every answered request must have its record.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from computemoat.store import open_database
from computemoat.store.testing import ENV_PG_URL, fresh_database_url
from computemoat.store.usage import usage_by_model
from gateway_bench import CLI, SERVER_CPU, free_port, gateway_config, pinned, wait_ready, wrk

ROOT = Path(__file__).resolve().parent.parent
BODY = '{"model":"m","messages":[{"role":"user","content":"hello there"}],"max_tokens":8}'
# Run with the PYTHONPATH of the code under test, so a baseline revision prepares its own schema.
_PREPARE = """
import sys
from computemoat.store import open_database, repo
url, limited = sys.argv[1], sys.argv[2] == "1"
db = open_database(url)
repo.create_tenant(db, "bench")
if limited:
    try:
        from computemoat.store.limits import Scope, set_limits
        set_limits(db, Scope("bench"), rpm=10**9, tpm=2 * 10**9, budget_usd=1e12, alert_at_fraction=0.9)
    except ImportError:  # revisions before store/limits.py
        repo.set_limits(db, "bench", rpm=10**9, tpm=2 * 10**9, monthly_budget_usd=1e12)
print(repo.create_key(db, "bench").api_key)
db.dispose()
"""


def _lua(path: Path, key: str) -> Path:
    path.write_text(f'wrk.method = "POST"\nwrk.body = \'{BODY}\'\nwrk.headers["Content-Type"] = '
                    f'"application/json"\nwrk.headers["Authorization"] = "Bearer {key}"\n')
    return path


def _prepare(url: str, limited: bool, env: dict[str, str] | None) -> str:
    out = subprocess.run([sys.executable, "-c", _PREPARE, url, "1" if limited else "0"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def _baseline_src(rev: str, dest: Path) -> Path:
    """Today's src/ with the store and the tenancy adapter of ``rev``."""
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(dest / "src" / "computemoat" / "store")
    archive = subprocess.run(["git", "archive", rev, "src/computemoat/store", "src/computemoat/gateway/tenancy.py"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def _records(url: str) -> int:
    db = open_database(url, migrate=False)
    try:
        return sum(x.requests for x in usage_by_model(db, "bench", time.strftime("%Y-%m", time.gmtime())))
    finally:
        db.dispose()


def fdatasync_ms(directory: Path, n: int = 200) -> float:
    """Median time of one fdatasync after a 4 KiB append, on the disk the SQLite files live on: the
    floor of any durable commit here, measured in the same run."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    times = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            t = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - t) * 1e3)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", default="1,16,64", help="comma-separated wrk connection counts")
    ap.add_argument("--baseline-rev", default=None, help="also run the metering code of this git revision")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    levels = [int(c) for c in args.concurrency.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="meterbench-"))
    procs: list[subprocess.Popen[bytes]] = []
    backends = ["sqlite"] + (["postgresql"] if os.environ.get(ENV_PG_URL) else [])
    try:
        mock_port = free_port()
        procs.append(pinned([*CLI, "mock-backend", "--port", str(mock_port)], SERVER_CPU))
        wait_ready(mock_port, "/v1/models")
        gateway_config(mock_port, tmp / "gw.yaml")
        targets: dict[str, tuple[int, Path, str | None]] = {}
        variants: list[tuple[str, dict[str, str] | None]] = [("", None)]
        if args.baseline_rev:
            src = _baseline_src(args.baseline_rev, tmp / "baseline")
            variants.append((f" ({args.baseline_rev})", {**os.environ, "PYTHONPATH": str(src)}))

        def start(name: str, key: str, url: str | None, env: dict[str, str] | None = None) -> None:
            port = free_port()
            extra = ["--database-url", url] if url else []
            procs.append(pinned([*CLI, "serve", str(tmp / "gw.yaml"), "--port", str(port), *extra], SERVER_CPU,
                                env=env))
            wait_ready(port, "/readyz")
            targets[name] = (port, _lua(tmp / f"target{len(targets)}.lua", key), url)

        start("off", "cm-unused", None)
        with contextlib.ExitStack() as stack:
            for backend in backends:
                for limited in (False, True):
                    for suffix, env in variants:
                        sub = tmp / f"{backend}-{limited}-{len(targets)}"
                        sub.mkdir()
                        url = stack.enter_context(fresh_database_url(backend, sub))
                        name = f"{backend} on" + (" + limits" if limited else "") + suffix
                        start(name, _prepare(url, limited, env), url, env)
            runs: dict[tuple[str, int], list[dict[str, float]]] = {(n, c): [] for n in targets for c in levels}
            answered = dict.fromkeys(targets, 0)
            fsync_ms = [fdatasync_ms(tmp)]
            for _ in range(args.rounds):
                for c in levels:
                    for name, (port, lua, _url) in targets.items():
                        r = wrk(f"http://127.0.0.1:{port}/v1/chat/completions", lua, c, args.seconds)
                        if r["bad"] or r["sock_err"]:
                            print(f"  {name} c={c}: {r['bad']} non-2xx, socket errors {r['sock_err']!r}")
                        runs[(name, c)].append(r)
                        answered[name] += int(r["requests"] - r["bad"])
            fsync_ms.append(fdatasync_ms(tmp))
            print(f"{args.seconds:g} s x {args.rounds} rounds per cell, median round; one fdatasync (4 KiB) "
                  f"p50 {fsync_ms[0]:.2f} ms before, {fsync_ms[1]:.2f} ms after; load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            print(f"{'configuration':<30}{'c':>4}{'req/s':>9}{'vs off':>8}{'p50 ms':>8}{'+p50 ms':>9}{'p99 ms':>8}")
            for c in levels:
                base_rps = statistics.median(r["rps"] for r in runs[("off", c)])
                base_p50 = statistics.median(r["p50"] for r in runs[("off", c)])
                for name in targets:
                    cell = runs[(name, c)]
                    rps = statistics.median(r["rps"] for r in cell)
                    p50 = statistics.median(r["p50"] for r in cell)
                    p99 = statistics.median(r["p99"] for r in cell)
                    print(f"{name:<30}{c:>4}{rps:>9.0f}{rps / base_rps:>8.2f}{p50:>8.2f}{p50 - base_p50:>+9.2f}"
                          f"{p99:>8.1f}")
            print(f"{'configuration':<30}{'answered':>10}{'records':>10}")
            for name, (_port, _lua_path, url) in targets.items():
                if url:
                    print(f"{name:<30}{answered[name]:>10}{_records(url):>10}")
            for p in procs[1:]:
                p.terminate()
                p.wait(timeout=10)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


if __name__ == "__main__":
    main()
