"""Latency benchmark: one LEO snapshot of Starlink shell 1, 1,000 user cells x 100 sites (every site a
ground station), our scipy pipeline vs networkx Dijkstra on the very same graph, measured in one run.

    .venv/bin/python bench/latency_bench.py            # full run (~1 min on 2 cores)
    .venv/bin/python bench/latency_bench.py --quick    # smaller scaling table

Prints: time per snapshot (graph build + C Dijkstra), the networkx time and the ratio, how the
snapshot time grows with users, sites and satellites, and the default-scenario matrix time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import networkx as nx
import numpy as np

from computemoat.latency.constellation import WalkerShell, plus_grid_isls
from computemoat.latency.geo import ground_ecef_km, vacuum_rtt_ms
from computemoat.latency.leo import snapshot_graph, snapshot_rtt_ms
from computemoat.model import LeoShell, NetworkSettings

NET = NetworkSettings()


def fibonacci_points(n: int, max_abs_lat_deg: float = 60.0) -> np.ndarray:
    """``n`` near-evenly spaced ground points (km, ECEF) between +-``max_abs_lat_deg``: user cells."""
    k = np.arange(n) + 0.5
    z_max = np.sin(np.radians(max_abs_lat_deg))
    lat = np.degrees(np.arcsin(-z_max + 2 * z_max * k / n))
    lon = (np.degrees(np.pi * (1 + 5**0.5) * k) + 180) % 360 - 180
    return ground_ecef_km(lat, lon)


def random_points(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ground_ecef_km(np.degrees(np.arcsin(rng.uniform(-0.85, 0.85, n))), rng.uniform(-180, 180, n))


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` runs (the machine is shared and noisy)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def snapshot_seconds(shell: WalkerShell, users: int, sites: int, repeat: int = 3) -> float:
    user_xyz, site_xyz = fibonacci_points(users), random_points(sites, seed=1)
    a, b = plus_grid_isls(shell.planes, shell.sats_per_plane)

    def run() -> None:
        sats = shell.positions_ecef_km([0.0])[0]
        snapshot_rtt_ms(sats, a, b, site_xyz, user_xyz, NET)

    return best_of(run, repeat)


def versus_networkx(users: int, sites: int) -> None:
    shell = WalkerShell.from_settings(LeoShell())
    user_xyz, site_xyz = fibonacci_points(users), random_points(sites, seed=1)
    a, b = plus_grid_isls(shell.planes, shell.sats_per_plane)
    sats = shell.positions_ecef_km([0.0])[0]
    ours = snapshot_rtt_ms(sats, a, b, site_xyz, user_xyz, NET)

    graph = snapshot_graph(sats, a, b, site_xyz, user_xyz, NET).tocoo()
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(graph.row.tolist(), graph.col.tolist(), graph.data.tolist(), strict=True))
    n = shell.n_sats
    theirs = np.full_like(ours, np.inf)

    def run_ours() -> None:
        snapshot_rtt_ms(shell.positions_ecef_km([0.0])[0], a, b, site_xyz, user_xyz, NET)

    def run_networkx() -> None:
        for j in range(sites):
            dist = nx.single_source_dijkstra_path_length(g, n + j, weight="weight")
            for node, km in dist.items():
                if node >= n + sites:
                    theirs[node - n - sites, j] = vacuum_rtt_ms(km)

    # interleaved, so both sides see the same load on a shared machine; medians of each
    ours_times, nx_times = [], []
    for _ in range(3):
        nx_times.append(best_of(run_networkx, 1))
        ours_times.extend(best_of(run_ours, 1) for _ in range(3))
    ours_s, nx_s = statistics.median(ours_times), statistics.median(nx_times)
    if not np.allclose(ours, theirs, rtol=1e-9):  # same graph, so the same answer, or the bench is void
        raise SystemExit("networkx and scipy disagree")
    edges = graph.nnz
    print(f"shell 1 ({n} satellites), {users} user cells x {sites} sites, {edges:,} directed edges")
    print(f"  computemoat (positions + graph + scipy Dijkstra): {ours_s * 1000:8.1f} ms per snapshot")
    print(f"  networkx Dijkstra only (graph prebuilt):           {nx_s * 1000:8.1f} ms per snapshot")
    print(f"  ratio networkx / computemoat:                      {nx_s / ours_s:8.1f}x  (target >= 20x)")
    print(f"  reachable pairs: {np.isfinite(ours).mean():.1%}, results identical to networkx")


def scaling(quick: bool) -> None:
    shell1 = WalkerShell.from_settings(LeoShell())
    base = snapshot_seconds(shell1, 1000, 100)
    print("\ntime per snapshot (ms), ratio to the 1,584 sats x 1,000 users x 100 sites baseline")
    print("| satellites | users | sites | ms per snapshot | vs baseline |\n|---:|---:|---:|---:|---:|")
    print(f"| 1584 | 1000 | 100 | {base * 1000:.1f} | 1.00 |")
    users_grid = (250, 2000) if quick else (250, 500, 2000, 4000)
    sites_grid = (25, 200) if quick else (25, 50, 200, 400)
    shells = [(36, 22), (72, 44)] if quick else [(36, 22), (72, 44), (144, 44)]
    rows = [(shell1, u, 100) for u in users_grid] + [(shell1, 1000, s) for s in sites_grid]
    rows += [(WalkerShell(p, q, 550, 53, 1), 1000, 100) for p, q in shells]
    for shell, users, sites in rows:
        t = snapshot_seconds(shell, users, sites)
        print(f"| {shell.n_sats} | {users} | {sites} | {t * 1000:.1f} | {t / base:.2f} |")


def default_matrix() -> None:
    from computemoat.catalog import default_scenario
    from computemoat.latency import rtt_matrix

    s = default_scenario()
    fiber_only = s.model_copy(update={"network": s.network.model_copy(update={"leo_enabled": False})})
    t_fiber = best_of(lambda: rtt_matrix(fiber_only), 3)
    t_full = best_of(lambda: rtt_matrix(s), 3)
    snaps = s.network.leo_window_s // s.network.leo_step_s
    print(f"\nbundled scenario: {len(s.user_regions)} users x {len(s.sites)} sites, {snaps} snapshots: "
          f"{t_full:.2f} s (target < 10 s); fiber-only matrix {t_fiber * 1000:.1f} ms, "
          f"LEO costs {t_full / t_fiber:.0f}x fiber")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller scaling table")
    args = parser.parse_args()
    versus_networkx(1000, 100)
    scaling(args.quick)
    default_matrix()


if __name__ == "__main__":
    main()
