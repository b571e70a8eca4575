"""Learned vs LKH's own candidate sets (issue 21 part 2): ``lkh``, LKH with ALPHA / POPMUSIC forced, ``lkh-gnn``
with LKH's subgradient ascent, with none, and with learned penalties instead, side by side at equal budgets.

Protocol: one process, one solve at a time (each LKH run is a child process killed at the deadline; the
methods' ``prepare``, i.e. starting that child and loading the GNN, runs before each clock). Per instance the
variants run back to back, their order rotated from one instance to the next so that load drifts on a
shared machine fall on every variant alike; seed 0, LKH's default 10 runs, every tour re-checked by
``evaluate`` (inside ``ncosolve.solve``). The budget per instance is ``--time-limit`` seconds, or with
``--time-limit auto`` max(10, 0.01 n) s. Variants:

- ``lkh``: its default candidate set by size and budget (``ncosolve.baselines.lkh.candidate_set``);
- ``lkh alpha`` / ``lkh popmusic``: ``candidates=`` forced;
- ``lkh-gnn``: the shipped GNN's symmetrized top-5 edges per city, then each city's 2 nearest per quadrant, as
  LKH's CANDIDATE_FILE, LKH's ascent on them;
- ``lkh-gnn no ascent``: the same file with ``SUBGRADIENT = NO`` and penalties 0;
- ``lkh-gnn penalties``: the same file with ``SUBGRADIENT = NO`` and the shipped penalty model's node penalties;
- ``lkh-gnn knn only``: ``lkh-gnn`` with ``quadrant=0``: the learned edges alone, without each city's 2 nearest
  per quadrant that the default adds to the file (the file of the runs before 2026-12-07 17:00 UTC);
- ``lkh learned penalties``: ``lkh-gnn`` with ``edges="lkh"``: LKH's own candidate set (as ``lkh`` picks it)
  ranked under the learned penalties, no ascent.

Reported per suite and variant: the mean gap (%) to the suite's reference (``ncosolve.best_known``: proven
optima for TSPLIB; for tsp500-fu / tsp1000-fu the set's mean Concorde length, so on a subset only the
differences between variants mean something), for the Fu sets also the mean gap to the near-optimal tours
stored with them (per instance), the instances where a variant is strictly best / shares the best cost, and
``lkh-gnn``'s wins / ties / losses against ALPHA and POPMUSIC instance by instance. ``--recall`` adds, for the
Fu sets, the share of the stored tours' edges that each candidate set holds (ALPHA's and POPMUSIC's as LKH
writes them to a CANDIDATE_FILE, 5 per city and not symmetric; the GNN's file), outside any budget.

Usage: ``python benchmarks/lkh_gnn.py --suite tsp500-fu [--suite tsplib --min-n 1000 --max-n 5000]
[--first N] [--instances a,b] [--time-limit 10|auto] [--recall] [--out FILE]`` (default output
``benchmarks/results/lkh_gnn.json``).
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
from pathlib import Path

import numpy as np

import ncosolve
from ncosolve.benchmarks import best_known, data_dir, load_benchmark, suites

RESULTS = Path(__file__).parent / "results"
VARIANTS = {  # label: (method, options)
    "lkh": ("lkh", {}),
    "lkh alpha": ("lkh", {"candidates": "alpha"}),
    "lkh popmusic": ("lkh", {"candidates": "popmusic"}),
    "lkh-gnn": ("lkh-gnn", {}),
    "lkh-gnn no ascent": ("lkh-gnn", {"subgradient": False}),
    "lkh-gnn penalties": ("lkh-gnn", {"subgradient": False, "penalties": True}),
    "lkh learned penalties": ("lkh-gnn", {"subgradient": False, "penalties": True, "edges": "lkh"}),
    "lkh-gnn knn only": ("lkh-gnn", {"quadrant": 0}),
}
STORED_TOURS = {"tsp500-fu": "tsp500_fu.npz", "tsp1000-fu": "tsp1000_fu.npz"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="append", default=None,
                        help="suite name (repeatable; `ncosolve benchmarks` lists them; default tsp500-fu)")
    parser.add_argument("--first", type=int, default=None, help="the first N instances of each suite (after filters)")
    parser.add_argument("--instances", default="", help="comma-separated instance names to keep")
    parser.add_argument("--min-n", type=int, default=0, help="keep instances of at least this many nodes")
    parser.add_argument("--max-n", type=int, default=10**9, help="keep instances of at most this many nodes")
    parser.add_argument("--time-limit", default="10", help="seconds per instance, or 'auto' = max(10, 0.01 n)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated labels of VARIANTS")
    parser.add_argument("--recall", action="store_true", help="also the share of the Fu sets' stored tours' "
                        "edges in ALPHA's, POPMUSIC's and the GNN's candidate sets")
    parser.add_argument("--out", type=Path, default=RESULTS / "lkh_gnn.json", help="JSON output")
    args = parser.parse_args(argv)
    tsp_suites = sorted(spec.name for spec in suites() if spec.problem == "tsp")
    for suite in args.suite or ():
        if suite not in tsp_suites:
            parser.error(f"--suite {suite}: not a TSP suite; choose from {', '.join(tsp_suites)}")
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if args.time_limit != "auto":
        try:
            float(args.time_limit)
        except ValueError:
            parser.error(f"--time-limit {args.time_limit}: seconds, or 'auto'")
    return args


def budget(arg: str, n: int) -> float:
    """Seconds for an ``n``-node instance."""
    return max(10.0, 0.01 * n) if arg == "auto" else float(arg)


def selected(suite: str, args: argparse.Namespace) -> list:
    """The suite's instances that pass the filters, in suite order, the first ``--first``."""
    names = {x for x in args.instances.split(",") if x}
    keep = [inst for inst in load_benchmark(suite)
            if args.min_n <= inst.n <= args.max_n and (not names or inst.name in names)]
    if suite.startswith("tsplib"):  # by size, smallest first
        keep.sort(key=lambda inst: inst.n)
    return keep[:args.first] if args.first else keep


def stored_tour_cost(suite: str, instances: list) -> dict[str, float]:
    """{name: cost of the near-optimal tour stored with a Fu set} (empty for other suites)."""
    if suite not in STORED_TOURS:
        return {}
    with np.load(data_dir() / "tsp_large" / STORED_TOURS[suite]) as data:
        tours = data["tour"]
    index = {inst.name: k for k, inst in enumerate(load_benchmark(suite))}
    return {inst.name: ncosolve.evaluate(inst, tours[index[inst.name]]) for inst in instances}


def lkh_candidates(instance, kind: str) -> list[np.ndarray]:
    """The candidate lists LKH itself builds for ``instance`` (``kind`` "alpha" or "popmusic", its other
    parameters as ``lkh`` sets them): LKH writes them to a CANDIDATE_FILE it did not find, after one trial."""
    import tempfile

    from ncosolve.baselines import lkh
    from ncosolve.baselines.lkh_gnn import read_candidate_file

    text = lkh.coordinate_problem(instance)[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "written.cand")
        now = time.perf_counter()
        lkh.run_lkh(text, 1, 1, finish_by=now + 60, kill_at=now + 120, n=instance.n,
                    extra_params=lkh._CANDIDATE_PARAMS[kind] + f"CANDIDATE_FILE = {path}\nMAX_TRIALS = 1\n")
        with open(path) as f:
            return read_candidate_file(f.read())


def recall(cands: list[np.ndarray], tour: np.ndarray) -> tuple[float, float]:
    """(share of the tour's edges in the candidate set, either direction; undirected candidate edges per city)."""
    edges = {(min(i, int(j)), max(i, int(j))) for i, row in enumerate(cands) for j in row}
    hit = [(min(a, b), max(a, b)) in edges for a, b in zip(tour.tolist(), np.roll(tour, -1).tolist())]
    return float(np.mean(hit)), 2 * len(edges) / len(cands)


def recall_table(suite: str, instances: list) -> dict:
    """Candidate recall of ALPHA, POPMUSIC and the GNN's file against the tours stored with a Fu set."""
    from ncosolve.baselines.lkh_gnn import learned_candidates

    with np.load(data_dir() / "tsp_large" / STORED_TOURS[suite]) as data:
        tours = data["tour"]
    index = {inst.name: k for k, inst in enumerate(load_benchmark(suite))}
    sets = {"alpha": lambda inst: lkh_candidates(inst, "alpha"),
            "popmusic": lambda inst: lkh_candidates(inst, "popmusic"),
            "gnn file": learned_candidates}
    out = {}
    for label, build in sets.items():
        pairs = [recall(build(inst), tours[index[inst.name]]) for inst in instances]
        out[label] = {"recall_pct": round(100 * statistics.fmean(p[0] for p in pairs), 3),
                      "edges_per_city": round(statistics.fmean(p[1] for p in pairs), 3)}
    return out


def run_suite(suite: str, args: argparse.Namespace, labels: list[str]) -> dict:
    """Every variant on every selected instance of ``suite``, alternating; per-instance rows and a summary."""
    instances = selected(suite, args)
    stored = stored_tour_cost(suite, instances)
    rows = []
    for k, inst in enumerate(instances):
        t = budget(args.time_limit, inst.n)
        ref = best_known(inst, suite)
        order = labels[k % len(labels):] + labels[:k % len(labels)]
        row = {"instance": inst.name, "n": inst.n, "time_limit": t, "reference": ref,
               "stored_tour": stored.get(inst.name), "order": order, "results": {}}
        for label in order:
            method, options = VARIANTS[label]
            result = ncosolve.solve(inst, method, time_limit=t, seed=0, **options)
            info = result.info
            row["results"][label] = {
                "cost": result.cost if result.feasible else None, "feasible": result.feasible,
                "runtime_s": round(result.runtime_s, 3), "within_budget": result.runtime_s <= 1.1 * t + 0.5,
                "gap_pct": None if not result.feasible or not ref else round(100 * (result.cost / ref - 1), 4),
                "candidates": info.get("candidates"), "status": info.get("status"),
                **{key: info[key] for key in ("heatmap_s", "candidate_s", "penalties_s", "candidates_per_city_mean",
                                              "candidates_per_city_max", "prepare_s") if key in info}}
        costs = {label: r["cost"] for label, r in row["results"].items()}
        print(f"{suite} {inst.name} (n={inst.n}, {t:g} s): "
              + ", ".join(f"{label} {'-' if c is None else f'{c:.6g}'}" for label, c in costs.items()), flush=True)
        rows.append(row)
    report = {"suite": suite, "instances": len(rows), "rows": rows, "summary": summarize(rows, labels)}
    if args.recall and suite in STORED_TOURS:
        report["candidate_recall"] = recall_table(suite, instances)
    return report


def summarize(rows: list[dict], labels: list[str]) -> dict:
    """Per variant: mean gap, mean gap to stored tours, strict / shared best counts; lkh-gnn head to head."""
    out = {}
    for label in labels:
        res = [row["results"][label] for row in rows]
        ok = [r for r in res if r["feasible"]]
        gaps = [r["gap_pct"] for r in ok if r["gap_pct"] is not None]
        stored = [100 * (row["results"][label]["cost"] / row["stored_tour"] - 1) for row in rows
                  if row["stored_tour"] and row["results"][label]["feasible"]]
        best = shared = 0
        for row in rows:
            costs = [row["results"][lab]["cost"] for lab in labels if row["results"][lab]["feasible"]]
            mine = row["results"][label]["cost"]
            if mine is None:
                continue
            low = min(costs)
            ties = sum(1 for c in costs if c <= low * (1 + 1e-9))
            if mine <= low * (1 + 1e-9):
                best += ties == 1
                shared += ties > 1
        out[label] = {
            "feasible": f"{len(ok)}/{len(res)}",
            "mean_gap_pct": round(statistics.fmean(gaps), 4) if gaps else None,
            "mean_gap_to_stored_tours_pct": round(statistics.fmean(stored), 4) if stored else None,
            "strictly_best": best, "shared_best": shared,
            "max_runtime_over_budget": round(max(r["runtime_s"] / row["time_limit"]
                                                 for r, row in zip(res, rows)), 3) if rows else None,
            "all_within_budget": all(r["within_budget"] for r in res),
        }
    for gnn in [label for label, (method, _) in VARIANTS.items() if method == "lkh-gnn"]:
        for other in ("lkh alpha", "lkh popmusic", "lkh"):
            if gnn not in labels or other not in labels:
                continue
            w = t = lo = 0
            for row in rows:
                a, b = row["results"][gnn]["cost"], row["results"][other]["cost"]
                a = float("inf") if a is None else a
                b = float("inf") if b is None else b
                if abs(a - b) <= 1e-9 * max(abs(a), 1.0):
                    t += 1
                elif a < b:
                    w += 1
                else:
                    lo += 1
            out[f"{gnn} vs {other}"] = {"wins": w, "ties": t, "losses": lo}
    return out


def print_table(report: dict, labels: list[str]) -> None:
    """One table per suite."""
    s = report["summary"]
    print(f"\n{report['suite']} ({report['instances']} instances)")
    print(f"{'variant':<20} {'feasible':>8} {'gap %':>8} {'gap to stored %':>16} {'best':>5} {'shared':>6} "
          f"{'max rt/T':>8}")
    for label in labels:
        r = s[label]
        gap = "-" if r["mean_gap_pct"] is None else f"{r['mean_gap_pct']:.3f}"
        stored = "-" if r["mean_gap_to_stored_tours_pct"] is None else f"{r['mean_gap_to_stored_tours_pct']:.3f}"
        print(f"{label:<20} {r['feasible']:>8} {gap:>8} {stored:>16} {r['strictly_best']:>5} {r['shared_best']:>6} "
              f"{r['max_runtime_over_budget']:>8}")
    for key, r in s.items():
        if " vs " in key:
            print(f"  {key}: {r['wins']} wins, {r['ties']} ties, {r['losses']} losses")
    for label, r in report.get("candidate_recall", {}).items():
        print(f"  candidates {label}: {r['recall_pct']:.2f}% of the stored tours' edges, "
              f"{r['edges_per_city']:.2f} edges per city")


def main(argv: list[str] | None = None) -> dict:
    """Run the ablation and write the JSON report."""
    args = parse_args(argv)
    labels = [x for x in args.variants.split(",") if x]
    unknown = [x for x in labels if x not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    started = datetime.now(timezone.utc)
    load_start, wall = os.getloadavg(), time.perf_counter()
    suites = [run_suite(suite, args, labels) for suite in (args.suite or ["tsp500-fu"])]
    report = {
        "benchmark": "lkh_gnn", "command": " ".join(["python", "benchmarks/lkh_gnn.py", *(argv or sys.argv[1:])]),
        "date": started.isoformat(timespec="seconds"), "wall_s": round(time.perf_counter() - wall, 1),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "variants": {label: {"method": VARIANTS[label][0], "options": VARIANTS[label][1]} for label in labels},
        "suites": suites,
    }
    for suite in suites:
        print_table(suite, labels)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwrote {args.out} ({report['wall_s']} s wall, load {report['load_average_start']} -> "
          f"{report['load_average_end']})")
    return report


if __name__ == "__main__":
    main()
