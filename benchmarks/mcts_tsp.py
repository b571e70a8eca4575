"""Heatmap-guided MCTS on the uniform TSP-500 / 1000 / 10000 test sets (Fu et al.), side by side.

Protocol: the first ``--instances`` instances of tsp500-fu and tsp1000-fu and the first
``--instances-10k`` of tsp10000-fu; every method gets the same wall-clock budget per instance
(``--budget-500/1000/10000`` seconds), seed 0, in one pool of ``--processes`` spawned worker processes
per (suite, method) whose numba kernels are loaded before any budget starts. Every tour is re-checked by
``evaluate()`` (inside ``ncosolve.solve``). Reported per suite and method: mean tour length, gap of that
mean to the suite's reference mean (Concorde optima for 500/1000, LKH-3 for 10000; per-instance optima
are not published, so the gap is on the mean, as in the literature), mean runtime and the largest
runtime / budget, the mean per-instance gap to the near-optimal tours stored with the 500/1000 sets
(a per-instance yardstick for small subsets), the search's k-opt actions per second, and the peak
resident memory of the worker processes (``resource.getrusage``; includes the interpreter and the
imported libraries, about 280 MiB before any search).

The literature's budgets are T = 0.1 N s for 500/1000 and 0.01 N s for 10000 (50 s, 100 s, 100 s);
the defaults here are shorter (5 s, 10 s, 30 s) so that a full run fits in about ten minutes on the
shared 2-core machine; the gaps are therefore not directly comparable with published ones.
OR-Tools (method ``ortools``, when registered) runs on 500/1000 only: at 10000 nodes it needs a dense
matrix.

Usage: ``python benchmarks/mcts_tsp.py [--instances 8] [--all] [--instances-10k 2]
[--budget-500 5] [--budget-1000 10] [--budget-10000 30] [--methods mcts,mcts-knn,ortools]
[--processes 2] [--out benchmarks/results/mcts_tsp.json]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import ncosolve
import ncosolve.search
from ncosolve.benchmarks import data_dir, load_benchmark
from ncosolve.registry import methods
from ncosolve.search.suites import SETS, reference_mean

DEFAULT_OUT = Path(__file__).parent / "results" / "mcts_tsp.json"
DENSE_METHODS = ("ortools", "lkh", "2opt")  # baselines that build an n x n matrix: not run at 10000 nodes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=8, help="first K instances of tsp500/1000 (default 8)")
    parser.add_argument("--all", action="store_true", help="all 128 instances of tsp500/1000")
    parser.add_argument("--instances-10k", type=int, default=2, help="first K of tsp10000 (default 2; 0 skips)")
    parser.add_argument("--budget-500", type=float, default=5.0, help="seconds per 500-city instance")
    parser.add_argument("--budget-1000", type=float, default=10.0, help="seconds per 1000-city instance")
    parser.add_argument("--budget-10000", type=float, default=30.0, help="seconds per 10000-city instance")
    parser.add_argument("--methods", default="mcts,mcts-knn,ortools",
                        help="comma-separated methods; unregistered ones are skipped (default mcts,mcts-knn,ortools)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    return parser.parse_args(argv)


def _init(method: str) -> None:
    import ncosolve.search  # noqa: F401  (registers the search methods in the spawned worker)

    if method.startswith("mcts"):
        ncosolve.search.warm_up()


def _job(args):
    """One solve in a worker; returns the Result and the worker's peak RSS so far (MiB)."""
    instance, method, budget = args
    result = ncosolve.solve(instance, method=method, time_limit=budget, seed=0)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def stored_gap(suite: str, results: list) -> float | None:
    """Mean per-instance gap (%) to the tours stored with the 500/1000 sets (0.23% / 0.47% above optimal on
    average): a per-instance yardstick for small subsets, where the gap to the set mean is noisy."""
    file = SETS[suite][0]
    with np.load(data_dir() / "tsp_large" / file) as data:
        tours = data["tour"]
    if suite == "tsp10000-fu":  # its stored "tour" is a dummy 0..N-1
        return None
    instances = load_benchmark(suite)
    gaps = [r.cost / ncosolve.evaluate(instances[k], tours[k]) - 1.0 for k, r in enumerate(results)]
    return round(100.0 * statistics.fmean(gaps), 3)


def run_group(suite: str, instances: list, method: str, budget: float, processes: int) -> dict:
    """Solve ``instances`` with ``method`` in a fresh pool; the row of the results table."""
    context = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_init,
                             initargs=(method,)) as pool:
        out = list(pool.map(_job, [(inst, method, budget) for inst in instances]))
    results = [r for r, _ in out]
    feasible = all(r.feasible for r in results)
    mean_len = statistics.fmean(r.cost for r in results) if feasible else float("inf")
    ref = reference_mean(suite)
    actions = [r.info["actions_per_s"] for r in results if "actions_per_s" in r.info]
    row = {
        "suite": suite, "method": method, "instances": len(results), "budget_s": budget,
        "mean_length": round(mean_len, 4), "reference_mean": ref,
        "gap_pct": round(100.0 * (mean_len / ref - 1.0), 3),
        "gap_to_stored_tours_pct": stored_gap(suite, results) if feasible else None, "all_feasible": feasible,
        "mean_runtime_s": round(statistics.fmean(r.runtime_s for r in results), 3),
        "max_runtime_over_budget": round(max(r.runtime_s / budget for r in results), 3),
        "within_budget_rule": all(r.runtime_s <= 1.1 * budget + 0.5 for r in results),
        "peak_rss_mib": round(max(rss for _, rss in out), 1),
        "actions_per_s": round(statistics.fmean(actions)) if actions else None,
        "wall_s": round(time.perf_counter() - start, 1),
    }
    print(f"{suite:12s} {method:9s} T={budget:5.1f}s  mean {row['mean_length']:9.4f}  gap {row['gap_pct']:6.3f}%  "
          f"vs stored {row['gap_to_stored_tours_pct']}%  "
          f"time {row['mean_runtime_s']:6.2f}s  rss {row['peak_rss_mib']:7.1f} MiB  "
          f"actions/s {row['actions_per_s']}", flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    """Run every (suite, method) group and write the JSON table."""
    args = parse_args(argv)
    known = {m.name for m in methods("tsp", available_only=True)}
    wanted = [m for m in args.methods.split(",") if m]
    skipped = [m for m in wanted if m not in known]
    chosen = [m for m in wanted if m in known]
    count = None if args.all else args.instances
    plan = [("tsp500-fu", count, args.budget_500), ("tsp1000-fu", count, args.budget_1000)]
    if args.instances_10k > 0:
        plan.append(("tsp10000-fu", args.instances_10k, args.budget_10000))
    rows = []
    for suite, k, budget in plan:
        instances = load_benchmark(suite)[:k]
        for method in chosen:
            if suite == "tsp10000-fu" and method in DENSE_METHODS:
                continue
            rows.append(run_group(suite, instances, method, budget, args.processes))
    report = {
        "benchmark": "mcts_tsp", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "processes": args.processes},
        "ncosolve": ncosolve.__version__, "seed": 0, "methods_skipped_unregistered": skipped,
        "note": "gap = mean length over the instances run vs the suite's reference mean; budgets shorter than "
                "the literature's T = 0.1 N s (500/1000) and 0.01 N s (10000)",
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
