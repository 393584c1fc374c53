"""Gateway throughput and added latency, one run: direct-to-mock vs computemoat (aiohttp upstream
client, what ships) vs the same gateway on the hand-written HTTP/1.1 client it replaced
(bench/_baseline_upstream.py) vs LiteLLM proxy.

All servers run on CPU 0 and wrk (one thread) on CPU 1, so the load generator never competes with
what it measures. Same mock backend, same request body, same concurrency for every target; targets are
measured in interleaved rounds (order rotated each round) and each cell is the median round. Prints
requests/s and p50/p99 per target, the ratios, and the gateway's RSS over 100k requests.

    .venv/bin/python bench/gateway_bench.py [--seconds 5] [--rounds 3] [--skip-litellm] [--baseline-rev REV]

``--baseline-rev REV`` adds a target ``gw (REV)``: the same ``serve`` with ``src/computemoat/gateway``
of git revision REV (the rest of src/ as it is now), measured in the same rounds: a before/after from
one run.

LiteLLM runs only if /tmp/litellm-venv has it (``python -m venv /tmp/litellm-venv &&
/tmp/litellm-venv/bin/pip install 'litellm[proxy]'``); it is never a project dependency.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER_CPU, LOADGEN_CPU = "0", "1"
LITELLM = Path("/tmp/litellm-venv/bin/litellm")
BENCH_KEY = "sk-bench-4f1c9e2a7b3d48e6a0c5f9d1e8b27a63"  # LiteLLM refuses to start without a master key
BODY = '{"model":"m","messages":[{"role":"user","content":"hello there"}],"max_tokens":8}'
LUA = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {BENCH_KEY}"
"""
CLI = [sys.executable, "-c", "from computemoat.cli import main; main()"]
BENCH_DIR = Path(__file__).resolve().parent
# the same gateway (config, app, proxy) with the old client swapped in: bench/_baseline_upstream.py
BASELINE_GATEWAY = [
    sys.executable, "-c",
    f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r}); import _baseline_upstream; _baseline_upstream.install();"
    " from computemoat.gateway.server import serve; serve(sys.argv[1], port=int(sys.argv[2]))",
]
AIOHTTP, HANDWRITTEN = "gw-aiohttp", "gw-handwritten"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, path: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {BENCH_KEY}\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} not ready after {timeout_s} s")


def pinned(cmd: list[str], cpu: str, **kw) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["taskset", "-c", cpu, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def wrk(url: str, lua: Path, concurrency: int, seconds: float) -> dict[str, float]:
    out = subprocess.run(
        ["taskset", "-c", LOADGEN_CPU, "wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--latency",
         "-s", str(lua), url],
        capture_output=True, text=True, check=True,
    ).stdout
    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": ms("50%"),
            "p99": ms("99%"), "requests": total, "bad": int(non2xx.group(1)) if non2xx else 0,
            "sock_err": errors.group(1) if errors else ""}


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(url: str, lua: Path, concurrency: int, seconds: float, pid: int) -> dict[str, float]:
    """``wrk`` plus the server's CPU time per request (µs) over the run."""
    before = cpu_s(pid)
    r = wrk(url, lua, concurrency, seconds)
    r["cpu_us"] = (cpu_s(pid) - before) / max(r["requests"], 1) * 1e6
    return r


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def gateway_config(mock_port: int, path: Path) -> None:
    path.write_text(
        "backends:\n"
        f"  - {{name: mock, url: 'http://127.0.0.1:{mock_port}', provider: p, site: 'p:x',\n"
        "     lat_deg: 0, lon_deg: 0, models: [m], max_concurrency: 1024}\n"
    )


def litellm_config(mock_port: int, path: Path) -> None:
    path.write_text(
        "model_list:\n"
        "  - model_name: m\n"
        f"    litellm_params: {{model: openai/m, api_base: 'http://127.0.0.1:{mock_port}/v1', api_key: sk-x}}\n"
        "litellm_settings: {telemetry: false, drop_params: true}\n"
        f"general_settings: {{master_key: {BENCH_KEY}}}\n"
    )


def baseline_src(rev: str, dest: Path) -> Path:
    """Today's src/ with the gateway package of ``rev``."""
    root = BENCH_DIR.parent
    shutil.copytree(root / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(dest / "src" / "computemoat" / "gateway")
    archive = subprocess.run(["git", "archive", rev, "src/computemoat/gateway"], cwd=root,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median req/s (its latencies stay consistent with its throughput)."""
    ordered = sorted(rounds, key=lambda r: r["rps"])
    r = dict(ordered[(len(ordered) - 1) // 2])
    r["rps_spread"] = (ordered[-1]["rps"] - ordered[0]["rps"]) / statistics.median(x["rps"] for x in ordered)
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--memory-requests", type=int, default=100_000)
    ap.add_argument("--skip-litellm", action="store_true")
    ap.add_argument("--skip-handwritten", action="store_true", help="no gw-handwritten target")
    ap.add_argument("--baseline-rev", default=None, help="also run the gateway package of this git revision")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="gwbench-"))
    lua = tmp / "post.lua"
    lua.write_text(LUA)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        mock_port = free_port()
        procs.append(pinned([*CLI, "mock-backend", "--port", str(mock_port)], SERVER_CPU))
        wait_ready(mock_port, "/v1/models")
        targets = {"direct": mock_port}
        pids = {"direct": procs[-1].pid}  # taskset execs the server: same pid
        gateway_config(mock_port, tmp / "gw.yaml")

        gw_port = free_port()
        gw = pinned([*CLI, "serve", str(tmp / "gw.yaml"), "--port", str(gw_port)], SERVER_CPU)
        procs.append(gw)
        wait_ready(gw_port, "/readyz")
        targets[AIOHTTP] = gw_port
        pids[AIOHTTP] = gw.pid

        if args.baseline_rev:
            rev_port = free_port()
            env = {**os.environ, "PYTHONPATH": str(baseline_src(args.baseline_rev, tmp / "baseline"))}
            procs.append(pinned([*CLI, "serve", str(tmp / "gw.yaml"), "--port", str(rev_port)], SERVER_CPU, env=env))
            wait_ready(rev_port, "/readyz")
            targets[f"gw ({args.baseline_rev})"] = rev_port
            pids[f"gw ({args.baseline_rev})"] = procs[-1].pid

        if not args.skip_handwritten:
            base_port = free_port()
            procs.append(pinned([*BASELINE_GATEWAY, str(tmp / "gw.yaml"), str(base_port)], SERVER_CPU))
            wait_ready(base_port, "/readyz")
            targets[HANDWRITTEN] = base_port
            pids[HANDWRITTEN] = procs[-1].pid

        if args.skip_litellm or not LITELLM.exists():
            print(f"litellm: skipped ({'--skip-litellm' if args.skip_litellm else f'{LITELLM} not installed'})")
        else:
            ll_port = free_port()
            litellm_config(mock_port, tmp / "litellm.yaml")
            env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
                   "LITELLM_TELEMETRY": "False"}
            procs.append(pinned([str(LITELLM), "--config", str(tmp / "litellm.yaml"), "--port", str(ll_port),
                                 "--num_workers", "1"], SERVER_CPU, env=env))
            wait_ready(ll_port, "/health/liveliness", timeout_s=180)
            targets["litellm"] = ll_port
            pids["litellm"] = procs[-1].pid

        urls = {name: f"http://127.0.0.1:{port}/v1/chat/completions" for name, port in targets.items()}
        for url in urls.values():
            wrk(url, lua, 16, 2)  # warm-up: connections, caches, allocator
        names = list(targets)
        rounds: dict[tuple[str, int], list[dict[str, float]]] = {}
        for i in range(args.rounds):
            order = names[i % len(names):] + names[: i % len(names)]  # rotate: no target always goes first
            for c in args.concurrency:
                for name in order:
                    rounds.setdefault((name, c), []).append(measured(urls[name], lua, c, args.seconds, pids[name]))
        results = {key: median_round(rs) for key, rs in rounds.items()}

        print(f"\n{args.rounds} rounds x {args.seconds:g} s per cell; median round shown;"
              " spread = (max - min) / median req/s;"
              " cpu us = the server's user + system CPU per request (the mock's own is in direct)")
        print(f"{'target':<15} {'conc':>4} {'req/s':>9} {'spread':>7} {'p50 ms':>8} {'p99 ms':>8}"
              f" {'cpu us':>7} {'non-2xx':>8}")
        for c in args.concurrency:
            for name in names:
                r = results[name, c]
                print(f"{name:<15} {c:>4} {r['rps']:>9.0f} {r['rps_spread']:>6.0%} {r['p50']:>8.2f} {r['p99']:>8.2f}"
                      f" {r['cpu_us']:>7.0f} {r['bad']:>8}"
                      + (f"  socket errors: {r['sock_err']}" if r["sock_err"] else ""))
        print()
        for c in args.concurrency:
            d, g = results["direct", c], results[AIOHTTP, c]
            line = (f"c={c:<3} aiohttp gateway: req/s {g['rps'] / d['rps']:.2f}x of direct;"
                    f" added p50 {g['p50'] - d['p50']:+.2f} ms")
            if (HANDWRITTEN, c) in results:
                h = results[HANDWRITTEN, c]
                cost = 1 - g["rps"] / h["rps"]
                line += (f"; {g['rps'] / h['rps']:.2f}x of the hand-written client ({cost:+.0%} cost"
                         f"{', over the 25% limit' if cost > 0.25 else ''}; its added p50"
                         f" {h['p50'] - d['p50']:+.2f} ms)")
            if args.baseline_rev:
                b = results[f"gw ({args.baseline_rev})", c]
                line += (f"; {g['rps'] / b['rps']:.2f}x the req/s of {args.baseline_rev}"
                         f" (its added p50 {b['p50'] - d['p50']:+.2f} ms)")
            if ("litellm", c) in results:
                ll = results["litellm", c]
                line += (f"; {g['rps'] / ll['rps']:.1f}x LiteLLM's req/s"
                         f" (LiteLLM added p50 {ll['p50'] - d['p50']:+.2f} ms)")
            print(line)

        url = urls[AIOHTTP]
        done, samples = 0, [(0, rss_mb(gw.pid))]
        while done < args.memory_requests:
            done += int(wrk(url, lua, 16, 5)["requests"])
            samples.append((done, rss_mb(gw.pid)))
        print(f"\n{AIOHTTP} RSS over load: " + ", ".join(f"{n // 1000}k: {mb:.1f} MB" for n, mb in samples))
        first_half = [mb for n, mb in samples if 0 < n <= done / 2]
        growth = samples[-1][1] - (first_half[0] if first_half else samples[1][1])
        print(f"RSS growth after warm-up to {done} requests: {growth:+.1f} MB")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
