"""Read what `computemoat deal --out` wrote (``schema: computemoat.deal/1``) for the dashboard's deal page.

The dashboard may be handed any JSON file (a plan, a sweep summary, a hand-edited deal), so the file is
checked field by field: every problem is one line naming the file and the field, a ``UserError``; the
page shows that line, the CLI exits 2 with it. Unknown extra fields are ignored (the schema only grows).
Horizon-wide shares are derived here from the two plans' per-period spend and GPUs, because a cap with
``*_cap_scope: horizon`` compares those, not a single period's share."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from computemoat.model import UserError

SCHEMA = "computemoat.deal/1"  # the same name as planner.deal.result.SCHEMA (web may not need the planner)
HINT = "write one with `computemoat deal OFFER.yaml --out deal.json`"


@dataclass(frozen=True)
class PlanSide:
    """One of the two plans (without / with the offer), reduced to what the page shows."""

    status: str
    total_usd: float
    objective_usd: float
    mip_gap: float | None
    spend_usd_by_provider: dict[str, tuple[float, ...]]
    gpus_by_provider: dict[str, tuple[float, ...]]

    def spend_per_period_usd(self, n: int) -> tuple[float, ...]:
        return tuple(sum(v[t] for v in self.spend_usd_by_provider.values()) for t in range(n))

    def horizon_spend_share(self, provider: str) -> float:
        total = sum(sum(v) for v in self.spend_usd_by_provider.values())
        return sum(self.spend_usd_by_provider.get(provider, ())) / total if total > 0 else 0.0

    def horizon_gpu_share(self, provider: str) -> float:
        """GPU-periods of ``provider`` over all GPU-periods (what ``gpu_cap_scope: horizon`` caps)."""
        total = sum(sum(v) for v in self.gpus_by_provider.values())
        return sum(self.gpus_by_provider.get(provider, ())) / total if total > 0 else 0.0


@dataclass(frozen=True)
class Shares:
    provider: str
    spend_without: tuple[float, ...]
    spend_with: tuple[float, ...]
    gpu_without: tuple[float, ...]
    gpu_with: tuple[float, ...]
    spend_cap: float | None
    gpu_cap: float | None


@dataclass(frozen=True)
class Exposure:
    period: int
    month: int
    date: str
    stranded_usd: float
    replan_extra_usd: float
    savings_usd: float


@dataclass(frozen=True)
class Landlord:
    usd_per_gpu_hour: float | None
    revenue_usd: float
    committed_gpus: int
    utilization_of_offered: float
    utilization_of_committed: float


@dataclass(frozen=True)
class PlanFaultsView:
    plan: str
    overrun_usd_mean: float
    overrun_usd_half_ci95: float  # half the width of the mean's 95% interval
    deadline_miss_share: float


@dataclass(frozen=True)
class FaultsView:
    """The Monte-Carlo over withdrawal timing and the simulator's faults (``faults_mc``; optional)."""

    sampled: str
    runner: str
    draws: int
    savings_p5_p50_p95_usd: tuple[float, float, float]
    savings_mean_usd: float
    plans: tuple[PlanFaultsView, ...]

    @property
    def label(self) -> str:
        where = "on Ray" if self.runner == "ray" else "in-process"
        return f"Monte-Carlo over {self.sampled}, {self.draws:,} draws {where}"


@dataclass(frozen=True)
class DealView:
    source: str  # the file it came from (path or uploaded name)
    offer: str
    provider: str
    scenario: str
    periods: tuple[str, ...]
    offered_usd_per_gpu_hour: float
    without: PlanSide
    with_offer: PlanSide
    savings_usd: float
    savings_npv_usd: float
    savings_by_period_usd: tuple[float, ...]
    committed_gpus: int
    break_even_usd_per_gpu_hour: float | None
    break_even_tolerance_usd_per_gpu_hour: float
    break_even_steps: int
    break_even_method: str
    shares: tuple[Shares, ...]
    exposure: tuple[Exposure, ...]
    withdrawal_probability_per_year: float
    expected_savings_usd: float
    savings_p5_p50_p95_usd: tuple[float, float, float]
    landlord_offered: Landlord
    landlord_break_even: Landlord | None
    solves: int
    elapsed_s: float
    faults_mc: FaultsView | None = None

    @property
    def cumulative_savings_usd(self) -> tuple[float, ...]:
        out, run = [], 0.0
        for s in self.savings_by_period_usd:
            run += s
            out.append(run)
        return tuple(out)

    @property
    def all_optimal(self) -> bool:
        return self.without.status == "optimal" and self.with_offer.status == "optimal"


class _Fields:
    """Typed reads from a JSON object, every failure one line ``source: field.path: problem``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> UserError:
        return UserError(f"{self.source}: {where}: {problem} ({HINT})")

    def obj(self, v: Any, where: str) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise self.fail(where, f"expected an object, got {_kind(v)}")
        return v

    def get(self, d: dict[str, Any], key: str, where: str) -> Any:
        if key not in d:
            raise self.fail(f"{where}.{key}" if where else key, "missing")
        return d[key]

    def num(self, d: dict[str, Any], key: str, where: str = "", *, optional: bool = False) -> float:
        v = self.get(d, key, where)
        if v is None and optional:
            return math.nan
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.fail(f"{where}.{key}" if where else key, f"expected a finite number, got {v!r:.40}")
        return float(v)

    def opt_num(self, d: dict[str, Any], key: str, where: str = "") -> float | None:
        v = self.num(d, key, where, optional=True)
        return None if math.isnan(v) else v

    def int_(self, d: dict[str, Any], key: str, where: str = "") -> int:
        v = self.num(d, key, where)
        if not v.is_integer():
            raise self.fail(f"{where}.{key}" if where else key, f"expected a whole number, got {v}")
        return int(v)

    def text(self, d: dict[str, Any], key: str, where: str = "") -> str:
        v = self.get(d, key, where)
        if not isinstance(v, str):
            raise self.fail(f"{where}.{key}" if where else key, f"expected a string, got {_kind(v)}")
        return v

    def series(self, v: Any, where: str, n: int, each: str = "") -> tuple[float, ...]:
        """A list of ``n`` finite numbers: one per period, or what ``each`` names (e.g. "P5, P50, P95")."""
        what = f"({each})" if each else "(one per period)"
        if not isinstance(v, list):
            raise self.fail(where, f"expected a list of {n} numbers {what}, got {_kind(v)}")
        if len(v) != n:
            raise self.fail(where, f"has {len(v)} values, expected {n} {what}" if each
                            else f"has {len(v)} values, the deal has {n} periods")  # fmt: skip
        for i, x in enumerate(v):
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
                raise self.fail(f"{where}[{i}]", f"expected a finite number, got {x!r:.40}")
        return tuple(float(x) for x in v)

    def items(self, d: dict[str, Any], key: str, where: str = "") -> list[dict[str, Any]]:
        v = self.get(d, key, where)
        path = f"{where}.{key}" if where else key
        if not isinstance(v, list):
            raise self.fail(path, f"expected a list, got {_kind(v)}")
        return [self.obj(x, f"{path}[{i}]") for i, x in enumerate(v)]


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(v), type(v).__name__
    )


def _plan(f: _Fields, d: dict[str, Any], key: str, n: int) -> PlanSide:
    p = f.obj(f.get(d, key, ""), key)

    def by_provider(name: str) -> dict[str, tuple[float, ...]]:
        m = f.obj(f.get(p, name, key), f"{key}.{name}")
        return {str(k): f.series(v, f"{key}.{name}.{k}", n) for k, v in m.items()}

    return PlanSide(
        status=f.text(p, "status", key), total_usd=f.num(p, "total_usd", key),
        objective_usd=f.num(p, "objective_usd", key), mip_gap=f.opt_num(p, "mip_gap", key),
        spend_usd_by_provider=by_provider("spend_usd_by_provider"), gpus_by_provider=by_provider("gpus_by_provider"),
    )  # fmt: skip


def _shares(f: _Fields, d: dict[str, Any], where: str, n: int) -> Shares:
    def series(key: str) -> tuple[float, ...]:
        return f.series(f.get(d, key, where), f"{where}.{key}", n)

    return Shares(
        provider=f.text(d, "provider", where), spend_without=series("spend_share_without"),
        spend_with=series("spend_share_with"), gpu_without=series("gpu_share_without"),
        gpu_with=series("gpu_share_with"), spend_cap=f.opt_num(d, "spend_cap", where),
        gpu_cap=f.opt_num(d, "gpu_cap", where),
    )  # fmt: skip


def _landlord(f: _Fields, v: Any, where: str) -> Landlord:
    d = f.obj(v, where)
    return Landlord(
        usd_per_gpu_hour=f.opt_num(d, "usd_per_gpu_hour", where), revenue_usd=f.num(d, "revenue_usd", where),
        committed_gpus=f.int_(d, "committed_gpus", where),
        utilization_of_offered=f.num(d, "utilization_of_offered", where),
        utilization_of_committed=f.num(d, "utilization_of_committed", where),
    )  # fmt: skip


def _faults(f: _Fields, v: Any) -> FaultsView | None:
    """``faults_mc``: absent or null in a timing-only file (and in files written before it existed)."""
    if v is None:
        return None
    d = f.obj(v, "faults_mc")
    pcts = f.get(d, "savings_p5_p50_p95_usd", "faults_mc")
    p5, p50, p95 = f.series(pcts, "faults_mc.savings_p5_p50_p95_usd", 3, "P5, P50, P95")
    plans = f.items(d, "plans", "faults_mc")
    if len(plans) != 2:
        raise f.fail("faults_mc.plans", f"expected 2 plans (without, with_offer), got {len(plans)}")
    return FaultsView(
        sampled=f.text(d, "sampled", "faults_mc"), runner=f.text(d, "runner", "faults_mc"),
        draws=f.int_(d, "draws", "faults_mc"), savings_p5_p50_p95_usd=(p5, p50, p95),
        savings_mean_usd=f.num(d, "savings_mean_usd", "faults_mc"),
        plans=tuple(_plan_faults(f, p, f"faults_mc.plans[{i}]") for i, p in enumerate(plans)),
    )  # fmt: skip


def _plan_faults(f: _Fields, p: dict[str, Any], where: str) -> PlanFaultsView:
    low, high = f.series(f.get(p, "overrun_usd_ci95", where), f"{where}.overrun_usd_ci95", 2, "low, high")
    return PlanFaultsView(plan=f.text(p, "plan", where), overrun_usd_mean=f.num(p, "overrun_usd_mean", where),
                          overrun_usd_half_ci95=(high - low) / 2,
                          deadline_miss_share=f.num(p, "deadline_miss_share", where))  # fmt: skip


def parse_deal(doc: Any, source: str) -> DealView:
    """A ``computemoat.deal/1`` document as the page's view; a ``UserError`` (one line) otherwise."""
    f = _Fields(source)
    if not isinstance(doc, dict):
        raise UserError(f"{source}: expected a JSON object with schema {SCHEMA!r}, got {_kind(doc)} ({HINT})")
    schema = doc.get("schema")
    if schema is None:
        raise UserError(f"{source}: no 'schema' field: not a `computemoat deal --out` file ({HINT})")
    if schema != SCHEMA:
        raise UserError(f"{source}: schema is {schema!r:.60}, this dashboard reads {SCHEMA!r} ({HINT})")
    periods = doc.get("periods")
    if not isinstance(periods, list) or not periods or not all(isinstance(p, str) for p in periods):
        raise f.fail("periods", "expected a non-empty list of ISO dates (one per period)")
    n = len(periods)
    be = f.obj(f.get(doc, "break_even", ""), "break_even")
    pcts = f.get(doc, "savings_p5_p50_p95_usd", "")
    if not (isinstance(pcts, list) and len(pcts) == 3):
        raise f.fail("savings_p5_p50_p95_usd", f"expected a list of 3 numbers (P5, P50, P95), got {_kind(pcts)}")
    p5, p50, p95 = f.series(pcts, "savings_p5_p50_p95_usd", 3, "P5, P50, P95")
    shares = tuple(_shares(f, d, f"shares[{i}]", n) for i, d in enumerate(f.items(doc, "shares")))
    exposure = tuple(
        Exposure(
            period=f.int_(e, "period", f"exposure[{i}]"), month=f.int_(e, "month", f"exposure[{i}]"),
            date=f.text(e, "date", f"exposure[{i}]"), stranded_usd=f.num(e, "stranded_usd", f"exposure[{i}]"),
            replan_extra_usd=f.num(e, "replan_extra_usd", f"exposure[{i}]"),
            savings_usd=f.num(e, "savings_usd", f"exposure[{i}]"),
        )
        for i, e in enumerate(f.items(doc, "exposure"))
    )  # fmt: skip
    at_be = f.get(doc, "landlord_break_even", "")
    return DealView(
        source=source, offer=f.text(doc, "offer"), provider=f.text(doc, "provider"), scenario=f.text(doc, "scenario"),
        periods=tuple(periods), offered_usd_per_gpu_hour=f.num(doc, "offered_usd_per_gpu_hour"),
        without=_plan(f, doc, "without", n), with_offer=_plan(f, doc, "with_offer", n),
        savings_usd=f.num(doc, "savings_usd"), savings_npv_usd=f.num(doc, "savings_npv_usd"),
        savings_by_period_usd=f.series(f.get(doc, "savings_by_period_usd", ""), "savings_by_period_usd", n),
        committed_gpus=f.int_(doc, "committed_gpus"),
        break_even_usd_per_gpu_hour=f.opt_num(be, "usd_per_gpu_hour", "break_even"),
        break_even_tolerance_usd_per_gpu_hour=f.num(be, "tolerance_usd_per_gpu_hour", "break_even"),
        break_even_steps=f.int_(be, "bisection_steps", "break_even"),
        break_even_method=f.text(be, "method", "break_even"),
        shares=shares, exposure=exposure,
        withdrawal_probability_per_year=f.num(doc, "withdrawal_probability_per_year"),
        expected_savings_usd=f.num(doc, "expected_savings_usd"), savings_p5_p50_p95_usd=(p5, p50, p95),
        landlord_offered=_landlord(f, f.get(doc, "landlord_offered", ""), "landlord_offered"),
        landlord_break_even=None if at_be is None else _landlord(f, at_be, "landlord_break_even"),
        solves=f.int_(doc, "solves"), elapsed_s=f.num(doc, "elapsed_s"), faults_mc=_faults(f, doc.get("faults_mc")),
    )  # fmt: skip


def parse_deal_text(text: str | bytes, source: str) -> DealView:
    try:
        doc = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)  # JSON files are UTF-8
    except UnicodeDecodeError:
        raise UserError(f"{source}: not UTF-8 text, not a deal JSON file ({HINT})") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{source}:{e.lineno}: not valid JSON ({e.msg}; {HINT})") from None
    return parse_deal(doc, source)


def read_deal(path: Path) -> DealView:
    if path.is_dir() or not path.is_file():
        raise UserError(f"{path}: no such file ({HINT})")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    return parse_deal_text(raw, str(path))
