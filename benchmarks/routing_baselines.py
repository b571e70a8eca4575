"""Benchmark of the strong routing baselines against published optima / best-known solutions.

Protocol: each method runs once per instance (seed 0), one instance at a time, under the same
wall-clock budget (``--time-limit``, default 5 s). Every solution is re-checked by ``evaluate()``
(inside ``ncosolve.solve``). Reported per method and suite: mean and max gap to the optimum /
best-known value, the largest runtime / budget ratio, whether every run stayed within the budget rule
(``1.1 * T + 0.5`` s), and whether every solution was feasible. Targets (issue #2):

    OR-Tools  TSPLIB <= 200 nodes    mean gap <= 2.0 %
    OR-Tools  CVRPLIB set A          mean gap <= 3.0 %
    LKH-3     TSPLIB <= 1000 nodes   mean gap <= 0.5 %
    PyVRP     CVRPLIB set A          mean gap <= 1.0 %
    PyVRP     Solomon C1, R2         mean gap <= 3.0 % (each class)

Usage: ``python benchmarks/routing_baselines.py [--time-limit 5] [--methods ortools,lkh,pyvrp]
[--max-instances N] [--out benchmarks/results/routing_baselines.json]``. The exit status is 1 when a
target, the budget rule or feasibility fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import ncosolve
from ncosolve.benchmarks import best_known, load_benchmark
from ncosolve.catalog import get_method

# (method, suite, target mean gap in %)
PLAN = [
    ("ortools", "tsplib-200", 2.0),
    ("ortools", "cvrplib-A", 3.0),
    ("lkh", "tsplib-1000", 0.5),
    ("pyvrp", "cvrplib-A", 1.0),
    ("pyvrp", "solomon-C1", 3.0),
    ("pyvrp", "solomon-R2", 3.0),
]

DEFAULT_OUT = Path(__file__).parent / "results" / "routing_baselines.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=float, default=5.0, help="seconds per instance (default 5)")
    parser.add_argument("--methods", default="ortools,lkh,pyvrp",
                        help="comma-separated subset of ortools, lkh, pyvrp (default all)")
    parser.add_argument("--max-instances", type=int, default=None,
                        help="only the first N instances of each suite (smoke runs)")
    parser.add_argument("--seed", type=int, default=0, help="seed passed to every run (default 0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    return parser.parse_args(argv)


def run_one(method: str, instance, time_limit: float, seed: int) -> dict:
    """One solve, as a JSON-ready row with the gap to the instance's reference value."""
    result = ncosolve.solve(instance, method, time_limit=time_limit, seed=seed)
    reference = best_known(instance)
    gap = 100.0 * (result.cost / reference - 1.0) if result.feasible and reference else None
    return {
        "method": method, "instance": instance.name, "n": instance.n, "cost": result.cost if result.feasible else None,
        "best_known": reference, "gap_pct": gap, "feasible": result.feasible, "runtime_s": result.runtime_s,
        "budget_ratio": result.runtime_s / time_limit,
        "within_budget": result.runtime_s <= 1.1 * time_limit + 0.5,
        "status": result.info.get("status"), "infeasible_reason": result.info.get("infeasible_reason"),
    }


def summarise(method: str, suite: str, target: float, rows: list[dict]) -> dict:
    """Mean/max gap, worst budget ratio and the pass/fail of one (method, suite) cell."""
    gaps = [r["gap_pct"] for r in rows if r["gap_pct"] is not None]
    all_feasible = all(r["feasible"] for r in rows)
    within = all(r["within_budget"] for r in rows)
    mean_gap = statistics.fmean(gaps) if gaps else None
    return {
        "method": method, "suite": suite, "instances": len(rows), "mean_gap_pct": mean_gap,
        "max_gap_pct": max(gaps) if gaps else None, "target_mean_gap_pct": target,
        "max_budget_ratio": max(r["budget_ratio"] for r in rows), "max_runtime_s": max(r["runtime_s"] for r in rows),
        "all_feasible": all_feasible, "all_within_budget": within,
        "passed": all_feasible and within and mean_gap is not None and mean_gap <= target,
    }


def _versions() -> dict:
    out = {"ncosolve": ncosolve.__version__, "python": platform.python_version()}
    for package in ("ortools", "pyvrp", "elkai"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


def _pct(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width - 1}.3f}%"


def print_table(summary: list[dict], time_limit: float) -> None:
    """The summary as a fixed-width table."""
    print(f"\nRouting baselines, {time_limit:g} s per instance (gap vs optimum / best known)")
    header = f"{'method':8} {'suite':12} {'inst':>4} {'mean gap':>9} {'max gap':>8} {'target':>7} " \
             f"{'max t/T':>7} {'feasible':>8} {'budget':>6} {'pass':>5}"
    print(header)
    print("-" * len(header))
    for s in summary:
        print(f"{s['method']:8} {s['suite']:12} {s['instances']:4d} {_pct(s['mean_gap_pct'], 9)} "
              f"{_pct(s['max_gap_pct'], 8)} {s['target_mean_gap_pct']:6.1f}% {s['max_budget_ratio']:7.3f} {str(s['all_feasible']):>8} "
              f"{str(s['all_within_budget']):>6} {'yes' if s['passed'] else 'NO':>5}")


def main(argv: list[str] | None = None) -> int:
    """Run the plan for the chosen methods, print the table, write the JSON; 1 if anything fails."""
    args = parse_args(argv)
    chosen = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(chosen) - {m for m, _, _ in PLAN})
    if unknown:
        print(f"unknown method(s) {', '.join(unknown)}; choose from ortools, lkh, pyvrp", file=sys.stderr)
        return 2
    started = time.perf_counter()
    rows, summary, skipped = [], [], []
    for method, suite, target in PLAN:
        if method not in chosen:
            continue
        if not get_method(method).available:
            skipped.append(f"{method} (install ncosolve[{get_method(method).extra}])")
            continue
        instances = load_benchmark(suite)[: args.max_instances]
        cell = []
        for instance in instances:
            row = run_one(method, instance, args.time_limit, args.seed)
            row["suite"] = suite
            cell.append(row)
            gap = "-" if row["gap_pct"] is None else f"{row['gap_pct']:.3f}%"
            print(f"{method:8} {suite:12} {instance.name:12} cost {row['cost']} gap {gap} "
                  f"t {row['runtime_s']:.2f}s {'' if row['feasible'] else 'INFEASIBLE'}", flush=True)
        rows += cell
        summary.append(summarise(method, suite, target, cell))
    print_table(summary, args.time_limit)
    if skipped:
        print("skipped (not installed): " + ", ".join(skipped))
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "protocol": {"time_limit_s": args.time_limit, "seed": args.seed, "runs_per_instance": 1,
                     "max_instances": args.max_instances, "budget_rule": "runtime <= 1.1 * T + 0.5 s"},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "versions": _versions(),
        "wall_time_s": time.perf_counter() - started,
        "summary": summary,
        "skipped": skipped,
        "instances": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0 if all(s["passed"] for s in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
