"""Gateway throughput with tenancy + durable metering on vs off, SQLite and PostgreSQL, one run.

Same mock backend, same request, same wrk load (one thread, on CPU 1; gateway and mock on CPU 0, as in
gateway_bench.py). "off" is `computemoat serve` without a database; "on" authenticates a real API key
(cached), and group-commits one usage record per request before answering. "on + rpm" also gives the
tenant a (never reached) rpm limit, so each request pays the shared limiter's transaction too.
Configurations alternate over --rounds; the median requests/s of each is compared with "off".

    .venv/bin/python bench/metering_bench.py [--seconds 5] [--rounds 3] [--concurrency 64] [--baseline-rev REV]

--baseline-rev REV also runs every metered configuration on the tenancy/metering code of git revision
REV ("(REV)" rows): a copy of today's src/ with src/computemoat/store/ and gateway/tenancy.py taken
from REV, so before and after share the rest of the gateway and are measured in the same rounds.

PostgreSQL runs when $COMPUTEMOAT_TEST_PG_URL is set (`eval "$(.ci/postgres.sh)"`); its server is not
pinned, so it shares CPU 1 with wrk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from computemoat.store import open_database, repo
from computemoat.store.limits import Scope, set_limits
from computemoat.store.testing import ENV_PG_URL, fresh_database_url
from computemoat.store.usage import usage_by_model
from gateway_bench import CLI, SERVER_CPU, free_port, gateway_config, pinned, wait_ready, wrk

ROOT = Path(__file__).resolve().parent.parent
BODY = '{"model":"m","messages":[{"role":"user","content":"hello there"}],"max_tokens":8}'


def _lua(path: Path, key: str) -> Path:
    path.write_text(f'wrk.method = "POST"\nwrk.body = \'{BODY}\'\nwrk.headers["Content-Type"] = '
                    f'"application/json"\nwrk.headers["Authorization"] = "Bearer {key}"\n')
    return path


def _prepare(url: str, rpm: int | None) -> str:
    db = open_database(url)
    repo.create_tenant(db, "bench")
    if rpm:
        set_limits(db, Scope("bench"), rpm=rpm)
    key = repo.create_key(db, "bench").api_key
    db.dispose()
    return key


def _baseline_src(rev: str, dest: Path) -> Path:
    """Today's src/ with the store and the tenancy adapter of ``rev``."""
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(dest / "src" / "computemoat" / "store")
    archive = subprocess.run(["git", "archive", rev, "src/computemoat/store", "src/computemoat/gateway/tenancy.py"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--baseline-rev", default=None, help="also run the metering code of this git revision")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
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
        with __import__("contextlib").ExitStack() as stack:
            for backend in backends:
                for rpm in (None, 10**9):
                    for suffix, env in variants:
                        sub = tmp / f"{backend}-{rpm}-{len(targets)}"
                        sub.mkdir()
                        url = stack.enter_context(fresh_database_url(backend, sub))
                        name = f"{backend} on" + (" + rpm" if rpm else "") + suffix
                        start(name, _prepare(url, rpm), url, env)
            rps: dict[str, list[float]] = {n: [] for n in targets}
            p99: dict[str, list[float]] = {n: [] for n in targets}
            for _ in range(args.rounds):
                for name, (port, lua, _url) in targets.items():
                    r = wrk(f"http://127.0.0.1:{port}/v1/chat/completions", lua, args.concurrency, args.seconds)
                    if r["bad"] or r["sock_err"]:
                        print(f"  {name}: {r['bad']} non-2xx, socket errors {r['sock_err']!r}")
                    rps[name].append(r["rps"])
                    p99[name].append(r["p99"])
            base = statistics.median(rps["off"])
            print(f"c={args.concurrency}, {args.seconds:g} s x {args.rounds} rounds, median requests/s")
            print(f"{'configuration':<30}{'req/s':>10}{'vs off':>9}{'cost':>8}{'p99 ms':>9}  records")
            for name, runs in rps.items():
                url = targets[name][2]
                records = ""
                if url:
                    db = open_database(url)
                    month_lines = usage_by_model(db, "bench", __import__("time").strftime("%Y-%m"))
                    records = str(sum(x.requests for x in month_lines))
                    db.dispose()
                med = statistics.median(runs)
                print(f"{name:<30}{med:>10.0f}{med / base:>9.2f}{1 - med / base:>8.0%}"
                      f"{statistics.median(p99[name]):>9.1f}  {records}")
            for p in procs[1:]:
                p.terminate()
                p.wait(timeout=10)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


if __name__ == "__main__":
    main()
