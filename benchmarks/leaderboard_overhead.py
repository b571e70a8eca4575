"""Leaderboard harness figures (issue 7): overhead on the quick suite, and --jobs 2 against --jobs 1.

Protocol
--------
1. Overhead: every installed method on the ``quick`` suite, budget T per job, one worker, results to a
   fresh store. Overhead = wall time of ``run_leaderboard`` minus the summed method runtimes (what solve()
   measured): process start-up, dispatch, evaluate(), store appends. Target: <= 5 % of the summed budgets
   (jobs x T).
2. Parallel speed-up: a budget-bound method (OR-Tools GLS, which uses its whole budget) on ``quick`` with
   ``workers=1`` then ``workers=2``. Target on a 2-core machine: wall(2) <= 0.6 x wall(1).

    python benchmarks/leaderboard_overhead.py [--time-limit 1] [--out benchmarks/results/leaderboard_overhead.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ncosolve import leaderboard as lb
from ncosolve.runner import LocalRunner
from ncosolve.store import ResultStore


def timed_run(suite: str, methods, time_limit: float, workers: int) -> tuple[float, list[dict]]:
    """Wall seconds and rows of one leaderboard run into a fresh store."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        rows = lb.run_leaderboard(suite, methods, time_limit=time_limit, runner=LocalRunner(workers),
                                  store=ResultStore(folder))
        return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=1.0, help="seconds per run")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "leaderboard_overhead.json",
                        help="JSON output")
    args = parser.parse_args()
    t = args.time_limit

    wall, rows = timed_run("quick", None, t, workers=1)
    solving = sum((r["runtime_s"] or 0.0) + (r["prepare_s"] or 0.0) for r in rows)  # the methods' own time
    budgets = len(rows) * t

    def failed(over_budget: bool) -> list[str]:
        return [f"{r['instance']} {r['method']}: {r['reason']}" for r in rows
                if not lb.counts(r) and r["within_budget"] != over_budget]

    overhead = {"suite": "quick", "time_limit": t, "workers": 1, "jobs": len(rows),
                "methods": sorted({r["method"] for r in rows}), "wall_s": round(wall, 3),
                "method_runtime_s": round(solving, 3), "summed_budgets_s": budgets,
                "overhead_s": round(wall - solving, 3),
                "overhead_pct_of_budgets": round(100 * (wall - solving) / budgets, 2),
                "counted_jobs": sum(lb.counts(r) for r in rows), "over_budget_jobs": failed(True),
                "infeasible_jobs": failed(False)}
    print(json.dumps(overhead, indent=1))

    walls = {w: timed_run("quick", ["ortools"], t, workers=w)[0] for w in (1, 2)}
    parallel = {"suite": "quick", "method": "ortools", "time_limit": t, "wall_s_jobs1": round(walls[1], 3),
                "wall_s_jobs2": round(walls[2], 3), "ratio": round(walls[2] / walls[1], 3)}
    print(json.dumps(parallel, indent=1))

    doc = {"benchmark": "leaderboard harness", "command": "python benchmarks/leaderboard_overhead.py "
           f"--time-limit {t:g}", "environment": lb.environment(),
           "overhead": overhead, "targets": {"overhead_pct_max": 5.0, "jobs2_over_jobs1_max": 0.6},
           "jobs2_vs_jobs1": parallel,
           "met": {"overhead": overhead["overhead_pct_of_budgets"] <= 5.0, "jobs2": parallel["ratio"] <= 0.6}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
