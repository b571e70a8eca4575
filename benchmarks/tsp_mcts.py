"""Heatmap-guided MCTS on large TSP: the Fu et al. test sets, a heatmap table, TSPLIB vs OR-Tools / LKH, speed.

Every group of solves runs in a fresh pool of ``--processes`` spawned worker processes whose numba kernels
(and, for the GNN heatmap, torch and the shipped model) are loaded before any budget starts; every method
gets the same wall-clock budget per instance, seed ``--seed`` (default 0); every tour is re-checked by ``evaluate()`` (inside
``ncosolve.solve``). Peak memory is the worker's peak resident set (``resource.getrusage``; includes the
interpreter and imported libraries, about 280 MiB before any search, more with torch). ``--part``:

- ``suites``: the first ``--instances`` of tsp500-fu and tsp1000-fu and ``--instances-10k`` of tsp10000-fu,
  per method: gap of the mean length to the suite's reference mean (Concorde optima for 500/1000,
  LKH-3 for 10000; per-instance optima are not published, so the gap is on the mean, as in the
  literature), and the mean per-instance gap to the near-optimal tours stored with the 500/1000 sets.
  The literature's budgets are T = 0.1 N s (500/1000) and 0.01 N s (10000); the defaults here are
  shorter (5 s, 10 s, 30 s). OR-Tools runs on 500/1000 only (it needs a dense matrix).
- ``heatmaps``: the same search (``mcts``, size defaults) under each heatmap of ``--heatmaps``
  (softdist, knn-prior, gnn, all-zero) on the first ``--instances`` TSP-500 instances, ``--budget-500`` s.
- ``tsplib``: the shipped TSPLIB instances of 400-2400 nodes, ``--methods`` (default mcts, ortools, lkh
  with ``--lkh-runs`` runs) at ``--budget`` s each: per-instance gap to the proven optimum, mean gaps,
  and the ratio of each method's mean gap to mcts' (OR-Tools' / mcts' is the issue's >= 5x target).
- ``tune``: the search parameters behind ``default_params(n)``, chosen on generated instances
  (``ncosolve.generate``, seed 4242 + n, never the test sets) of each of ``--tune-distributions`` (default
  uniform and clustered): ``--tune-instances`` instances per distribution of 500 and 1,000 cities and
  ``--tune-instances-10k`` of 10,000 at ``--budget-500/1000/10000`` s, each configuration of ``TUNE_GRID``
  (overrides of the current defaults; ``--tune-configs`` picks some), reporting the mean length and the mean
  per-instance excess over the best configuration on each instance.
- ``speed``: k-opt actions per second and peak memory of ``mcts`` and ``mcts-gnn`` on the first
  instance of tsp1000-fu and of tsp10000-fu, ``--budget`` s each; the setup (k-NN lists, heatmap,
  GNN inference) is reported apart.

Usage: ``python benchmarks/tsp_mcts.py --part suites|heatmaps|tsplib|tune|speed [--instances 8] [--all]
[--instances-1000 K] [--instances-10k 2] [--budget-500 5] [--budget-1000 10] [--budget-10000 30] [--budget 5]
[--tune-instances 4] [--tune-distributions uniform,clustered] [--tune-configs ...] [--tune-instances-10k 1] [--methods ...] [--heatmaps softdist,knn-prior,gnn,all-zero] [--lkh-runs 1] [--processes 2] [--out FILE]``
(default output ``benchmarks/results/tsp_mcts_<part>.json``).
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
from ncosolve.benchmarks import best_known, data_dir, load_benchmark
from ncosolve.catalog import methods
from ncosolve.search.mcts import default_params
from ncosolve.suites.tsp_large import SETS, reference_mean

RESULTS = Path(__file__).parent / "results"
DENSE_METHODS = ("ortools", "lkh", "2opt")  # baselines that build an n x n matrix: not run at 10000 nodes
PARTS = ("suites", "heatmaps", "tsplib", "tune", "speed")
TUNE_SEED = 4242  # generated tuning instances: a seed no test set uses
TUNE_GRID = {  # overrides of default_params(n) tried by --part tune
    "defaults": {},
    "no quadrant neighbours": {"quadrant": 0},
    "1 quadrant neighbour per quadrant": {"quadrant": 1},
    "2 quadrant neighbours per quadrant": {"quadrant": 2},
    "3 quadrant neighbours per quadrant": {"quadrant": 3},
    "no Or-opt in the restart local search": {"local_or_opt": False},
    "Or-opt in the restart local search": {"local_or_opt": True},
    "no Or-opt actions": {"or_opt": 0.0},
    "10% Or-opt actions": {"or_opt": 0.1},
    "restart after 0.02 n": {"restart_factor": 0.02},
    "kick window 100": {"kick_window": 100},
    "3 alpha-nearest": {"alpha_nearness": 3},
    "5 alpha-nearest": {"alpha_nearness": 5},
    "8 alpha-nearest": {"alpha_nearness": 8},
    "no alpha-nearest": {"alpha_nearness": 0},
    "no wide kicks": {"wide_kicks": 0.0},
    "neither": {"alpha_nearness": 0, "wide_kicks": 0.0},
    "10% wide kicks": {"wide_kicks": 0.1},
    "30% wide kicks": {"wide_kicks": 0.3},
}
DEFAULT_METHODS = {"suites": "mcts,mcts-knn,ortools", "tsplib": "mcts,ortools,lkh", "speed": "mcts,mcts-gnn"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=PARTS, default="suites", help="which table to produce (default suites)")
    parser.add_argument("--instances", type=int, default=8, help="first K instances of tsp500/1000 (default 8; 0 skips them)")
    parser.add_argument("--instances-1000", type=int, default=None, help="first K of tsp1000 when it differs from "
                        "--instances")
    parser.add_argument("--all", action="store_true", help="all 128 instances of tsp500/1000")
    parser.add_argument("--instances-10k", type=int, default=2, help="first K of tsp10000 (default 2; 0 skips)")
    parser.add_argument("--budget-500", type=float, default=5.0, help="seconds per 500-city instance")
    parser.add_argument("--budget-1000", type=float, default=10.0, help="seconds per 1000-city instance")
    parser.add_argument("--budget-10000", type=float, default=30.0, help="seconds per 10000-city instance")
    parser.add_argument("--tune-instances", type=int, default=4, help="generated 500/1000-city instances for tune")
    parser.add_argument("--tune-distributions", default="uniform,clustered", help="generator distributions for tune "
                        "(default uniform,clustered)")
    parser.add_argument("--tune-configs", default="", help="comma-separated TUNE_GRID labels for tune (default all)")
    parser.add_argument("--tune-instances-10k", type=int, default=1, help="generated 10000-city instances for tune "
                        "(0 skips that size)")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds per instance for tsplib and speed")
    parser.add_argument("--methods", default="", help="comma-separated methods; ones whose optional dependency "
                        "is missing are skipped "
                        f"(default by part: {DEFAULT_METHODS})")
    parser.add_argument("--heatmaps", default="softdist,knn-prior,gnn,all-zero", help="heatmaps for --part heatmaps")
    parser.add_argument("--lkh-runs", type=int, default=1, help="LKH runs per instance for --part tsplib (default 1: "
                        "with its default of 10, LKH gave no tour within 10 s on any 400-2400-node instance here)")
    parser.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every solve in the suites and tsplib parts "
                        "(default 0)")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default results/tsp_mcts_<part>.json)")
    args = parser.parse_args(argv)
    registered = {m.name for m in methods("tsp")}
    unknown = [m for m in args.methods.split(",") if m and m not in registered]
    if unknown:  # a typo would otherwise run nothing and overwrite the part's results with an empty table
        parser.error(f"--methods: unknown {', '.join(unknown)}; TSP methods: {', '.join(sorted(registered))}")
    return args


def _init(method: str, heatmap: str | None) -> None:
    from ncosolve.search.methods import warm_up

    if method.startswith("mcts"):
        warm_up("gnn" if method == "mcts-gnn" or heatmap == "gnn" else "softdist", "knn-prior")


def _job(args):
    """One solve in a worker; returns the Result and the worker's peak RSS so far (MiB)."""
    instance, method, budget, options, seed = args
    result = ncosolve.solve(instance, method=method, time_limit=budget, seed=seed, **options)
    return result, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def solve_group(instances: list, method: str, budget: float, processes: int, options: dict | None = None,
                seed: int = 0):
    """``method`` on every instance in a fresh pool: (Results in order, peak worker RSS in MiB, wall seconds)."""
    options = options or {}
    context = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=_init,
                             initargs=(method, options.get("heatmap"))) as pool:
        out = list(pool.map(_job, [(inst, method, budget, options, seed) for inst in instances]))
    return [r for r, _ in out], round(max(rss for _, rss in out), 1), round(time.perf_counter() - start, 1)


def stored_gap(suite: str, results: list) -> float | None:
    """Mean per-instance gap (%) to the tours stored with the 500/1000 sets (0.23% / 0.47% above optimal on
    average): a per-instance yardstick for small subsets, where the gap to the set mean is noisy."""
    if suite == "tsp10000-fu":  # its stored "tour" is a dummy 0..N-1
        return None
    with np.load(data_dir() / "tsp_large" / SETS[suite][0]) as data:
        tours = data["tour"]
    instances = load_benchmark(suite)
    gaps = [r.cost / ncosolve.evaluate(instances[k], tours[k]) - 1.0 for k, r in enumerate(results)]
    return round(100.0 * statistics.fmean(gaps), 3)


def suite_row(suite: str, instances: list, method: str, budget: float, processes: int,
              options: dict | None = None, label: str | None = None, seed: int = 0) -> dict:
    """One row of the suites / heatmaps tables: gap of the mean length to the suite's reference mean."""
    results, rss, wall = solve_group(instances, method, budget, processes, options, seed)
    feasible = all(r.feasible for r in results)
    mean_len = statistics.fmean(r.cost for r in results) if feasible else float("inf")
    ref = reference_mean(suite)
    actions = [r.info["actions_per_s"] for r in results if "actions_per_s" in r.info]
    row = {
        "suite": suite, "method": label or method, "options": options or {}, "instances": len(results),
        "budget_s": budget, "mean_length": round(mean_len, 4), "reference_mean": ref,
        "gap_pct": round(100.0 * (mean_len / ref - 1.0), 3),
        "gap_to_stored_tours_pct": stored_gap(suite, results) if feasible else None, "all_feasible": feasible,
        "mean_runtime_s": round(statistics.fmean(r.runtime_s for r in results), 3),
        "max_runtime_over_budget": round(max(r.runtime_s / budget for r in results), 3),
        "within_budget_rule": all(r.runtime_s <= 1.1 * budget + 0.5 for r in results),
        "peak_rss_mib": rss, "actions_per_s": round(statistics.fmean(actions)) if actions else None,
        "mean_setup_s": round(statistics.fmean(r.info["setup_s"] for r in results), 3) if actions else None,
        "wall_s": wall,
    }
    print(f"{suite:12s} {row['method']:9s} T={budget:5.1f}s  mean {row['mean_length']:9.4f}  "
          f"gap {row['gap_pct']:6.3f}%  vs stored {row['gap_to_stored_tours_pct']}%  "
          f"time {row['mean_runtime_s']:6.2f}s  "
          f"rss {rss:7.1f} MiB  actions/s {row['actions_per_s']}", flush=True)
    return row


def chosen_methods(spec: str) -> tuple[list[str], list[str]]:
    """(registered methods of ``spec`` in order, the unregistered ones skipped)."""
    known = {m.name for m in methods("tsp", available_only=True)}
    wanted = [m for m in spec.split(",") if m]
    return [m for m in wanted if m in known], [m for m in wanted if m not in known]


def part_suites(args) -> dict:
    """The Fu et al. sets, side by side per method."""
    chosen, skipped = chosen_methods(args.methods or DEFAULT_METHODS["suites"])
    count = None if args.all else args.instances
    count_1000 = count if args.all or args.instances_1000 is None else args.instances_1000
    plan = [(suite, k, budget) for suite, k, budget in
            (("tsp500-fu", count, args.budget_500), ("tsp1000-fu", count_1000, args.budget_1000)) if k != 0]
    if args.instances_10k > 0:
        plan.append(("tsp10000-fu", args.instances_10k, args.budget_10000))
    rows = []
    for suite, k, budget in plan:
        instances = load_benchmark(suite)[:k]
        for method in chosen:
            if suite == "tsp10000-fu" and method in DENSE_METHODS:
                continue
            rows.append(suite_row(suite, instances, method, budget, args.processes, seed=args.seed))
    return {"methods_skipped_unregistered": skipped, "rows": rows,
            "note": "gap = mean length over the instances run vs the suite's reference mean; budgets shorter than "
                    "the literature's T = 0.1 N s (500/1000) and 0.01 N s (10000)"}


def part_heatmaps(args) -> dict:
    """The same search under every heatmap, on the first TSP-500 instances."""
    instances = load_benchmark("tsp500-fu")[:None if args.all else args.instances]
    rows = [suite_row("tsp500-fu", instances, "mcts", args.budget_500, args.processes, {"heatmap": h}, label=h)
            for h in args.heatmaps.split(",") if h]
    return {"rows": rows, "note": "method mcts with heatmap=<row>; size-default search parameters; heatmap time "
                                  "(GNN inference included) counted inside the budget"}


def part_tsplib(args) -> dict:
    """TSPLIB 400-2400 nodes: per-instance gaps to the optimum at one equal budget."""
    chosen, skipped = chosen_methods(args.methods or DEFAULT_METHODS["tsplib"])
    instances = sorted((i for i in load_benchmark("tsplib") if 400 <= i.n <= 2400), key=lambda i: i.n)
    per_method = {}
    for method in chosen:
        options = {"runs": args.lkh_runs} if method == "lkh" else {}
        results, rss, wall = solve_group(instances, method, args.budget, args.processes, options, args.seed)
        per_method[method] = {"results": results, "rss": rss, "wall": wall}
        print(f"{method}: {wall} s wall", flush=True)
    rows = []
    for k, inst in enumerate(instances):
        opt = best_known(inst)
        row = {"instance": inst.name, "n": inst.n, "optimum": opt}
        for method in chosen:
            r = per_method[method]["results"][k]
            row[method] = round(100.0 * (r.cost / opt - 1.0), 3) if r.feasible and r.solution is not None else None
            row[f"{method}_runtime_s"] = round(r.runtime_s, 2)
        rows.append(row)
        print("  ".join(f"{key}={value}" for key, value in row.items()), flush=True)
    summary = {}
    for method in chosen:
        gaps = [row[method] for row in rows]
        solved = [g for g in gaps if g is not None]
        summary[method] = {"mean_gap_pct": round(statistics.fmean(solved), 3) if solved else None,
                           "solved": len(solved), "instances": len(rows),
                           "max_runtime_over_budget": round(max(row[f"{method}_runtime_s"] for row in rows)
                                                            / args.budget, 3),
                           "peak_rss_mib": per_method[method]["rss"], "wall_s": per_method[method]["wall"]}
    if "mcts" in summary and summary["mcts"]["mean_gap_pct"]:
        for method in chosen:
            gap = summary[method]["mean_gap_pct"]
            complete = summary[method]["solved"] == len(rows)
            summary[method]["gap_over_mcts_gap"] = round(gap / summary["mcts"]["mean_gap_pct"], 2) \
                if gap is not None and complete else None
    print(json.dumps(summary, indent=1))
    return {"budget_s": args.budget, "lkh_runs": args.lkh_runs, "methods_skipped_unregistered": skipped,
            "rows": rows, "summary": summary,
            "note": "gap (%) to the proven optimum per instance; mean over the instances; gap_over_mcts_gap = "
                    "mean gap / mcts mean gap (only when the method solved every instance)"}


def part_tune(args) -> dict:
    """Each configuration of TUNE_GRID on generated instances of each size and distribution."""
    plan = [(500, args.tune_instances, args.budget_500), (1000, args.tune_instances, args.budget_1000),
            (10000, args.tune_instances_10k, args.budget_10000)]
    grid = {label: TUNE_GRID[label] for label in (args.tune_configs.split(",") if args.tune_configs else TUNE_GRID)}
    rows = []
    for size, count, budget in plan:
        if count < 1:
            continue
        instances = [inst for dist in args.tune_distributions.split(",")
                     for inst in ncosolve.generate("tsp", count, size, seed=TUNE_SEED + size, distribution=dist)]
        sized = []
        for label, options in grid.items():
            results, _, wall = solve_group(instances, "mcts", budget, args.processes, options)
            sized.append({"n": size, "config": label, "options": options, "instances": len(instances),
                          "distributions": args.tune_distributions, "budget_s": budget,
                          "mean_length": round(statistics.fmean(r.cost for r in results), 4),
                          "lengths": [round(r.cost, 4) for r in results],
                          "actions_per_s": round(statistics.fmean(r.info["actions_per_s"] for r in results)),
                          "wall_s": wall, "load_average": [round(x, 2) for x in os.getloadavg()]})
            print(sized[-1], flush=True)
        best = [min(row["lengths"][k] for row in sized) for k in range(len(instances))]
        for row in sized:  # mean over the instances of each one's excess over the best configuration on it
            row["excess_over_best_pct"] = round(100.0 * statistics.fmean(
                length / b - 1.0 for length, b in zip(row["lengths"], best)), 3)
        rows.extend(sized)
    return {"rows": rows, "defaults": {n: dict(vars(default_params(n))) for n in (500, 1000, 10000)},
            "note": f"generated instances ({args.tune_distributions}; seed {TUNE_SEED} + n), method mcts (softdist), "
                    "seed 0; excess = mean over the instances of the length's excess over the best configuration's "
                    "on that instance"}


def part_speed(args) -> dict:
    """Actions per second and peak memory at 1,000 and 10,000 cities."""
    chosen, skipped = chosen_methods(args.methods or DEFAULT_METHODS["speed"])
    rows = []
    for suite in ("tsp1000-fu", "tsp10000-fu"):
        inst = load_benchmark(suite)[0]
        for method in chosen:
            (r,), rss, _ = solve_group([inst], method, args.budget, 1)
            row = {"suite": suite, "n": inst.n, "method": method, "budget_s": args.budget, "peak_rss_mib": rss,
                   "actions": r.info["actions"], "actions_per_s": round(r.info["actions_per_s"]),
                   "setup_s": r.info["setup_s"], "search_s": r.info["search_s"], "restarts": r.info["restarts"],
                   "gap_to_reference_mean_pct": round(100.0 * (r.cost / reference_mean(suite) - 1.0), 3)}
            rows.append(row)
            print(row, flush=True)
    return {"methods_skipped_unregistered": skipped, "rows": rows,
            "note": "one instance per size, one worker process; actions = k-opt actions of the MCTS (restart "
                    "2-opt moves not counted); setup = k-NN lists, heatmap (GNN inference), candidates"}


def main(argv: list[str] | None = None) -> None:
    """Run the chosen part and write its JSON table."""
    args = parse_args(argv)
    table = {"suites": part_suites, "heatmaps": part_heatmaps, "tsplib": part_tsplib, "tune": part_tune,
             "speed": part_speed}
    started = time.perf_counter()
    body = table[args.part](args)
    report = {
        "benchmark": f"tsp_mcts/{args.part}", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "processes": args.processes,
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "ncosolve": ncosolve.__version__,
        "seed": args.seed if args.part in ("suites", "tsplib") else 0,  # --seed reaches those two parts only
        "wall_s": round(time.perf_counter() - started, 1), **body,
    }
    out = args.out or RESULTS / f"tsp_mcts_{args.part}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
