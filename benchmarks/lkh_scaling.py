"""LKH-3 (method ``lkh``) on large TSPs: runtime against the budget rule, gap, and the child's peak memory.

Protocol: each instance is solved once (seed 0) by ``ncosolve.solve(instance, "lkh", time_limit=T)`` in a
fresh Python process, one instance at a time, with T = max(10, 0.01 * N) s (``--time-limit`` fixes T;
the TSP-10000 set uses ``--fu-time-limit``, default 100 s). The cost is ``evaluate()``'s (inside
``solve``); the gap is to ``ncosolve.best_known`` (TSPLIB proven optima; for the TSP-10000 set the
suite's reference, the mean LKH-3 length 71.7778 of the literature, so single instances scatter around
it); for the generated 20,000-node instance there is no reference and the gap is to the
Beardwood-Halton-Hammersley estimate 0.7124 * sqrt(N) (1 + 0.33 / N), marked as such. Peak RSS is the
largest resident set of the solving process's children (the LKH child), from ``getrusage``.
The budget rule is runtime_s <= 1.1 * T + 0.5 s.

Usage: ``python benchmarks/lkh_scaling.py [--min-nodes 1000] [--max-nodes 20000] [--fu-instances 4]
[--no-20k] [--out benchmarks/results/lkh_scaling.json]``. The exit status is 1 when a run gives no
feasible tour or breaks the budget rule, or the 20,000-node child exceeds 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_OUT = Path(__file__).parent / "results" / "lkh_scaling.json"
RSS_LIMIT_MB = 2048


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-nodes", type=int, default=1000, help="smallest TSPLIB instance (default 1000)")
    parser.add_argument("--max-nodes", type=int, default=20000, help="largest TSPLIB instance (default 20000)")
    parser.add_argument("--only", default=None, help="comma-separated TSPLIB names (default all in range)")
    parser.add_argument("--time-limit", type=float, default=None, help="fixed T for every TSPLIB instance")
    parser.add_argument("--fu-instances", type=int, default=4,
                        help="first K instances of the TSP-10000 set (default 4; 0 skips it)")
    parser.add_argument("--fu-time-limit", type=float, default=100.0, help="T on the TSP-10000 set (default 100)")
    parser.add_argument("--no-20k", action="store_true", help="skip the generated 20,000-node instance")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: solve one instance
    return parser.parse_args(argv)


def load(key: str):
    """An instance from ``tsplib:<name>``, ``tsp10000-fu:<index>`` or ``uniform:<n>:<seed>``."""
    import ncosolve
    kind, _, rest = key.partition(":")
    if kind == "tsplib":
        from ncosolve.benchmarks import data_dir
        return ncosolve.read_instance(data_dir() / "tsplib" / f"{rest}.tsp")
    if kind == "tsp10000-fu":
        return ncosolve.load_benchmark("tsp10000-fu")[int(rest)]
    n, seed = map(int, rest.split(":"))
    return ncosolve.generate("tsp", n=1, size=n, seed=seed)[0]


def solve_one(key: str, time_limit: float) -> dict:
    """Solve one instance here; what the parent records."""
    import ncosolve
    inst = load(key)
    result = ncosolve.solve(inst, "lkh", time_limit=time_limit)
    ref = ncosolve.best_known(inst)
    ref_kind = "best_known"
    if ref is None:
        ref, ref_kind = 0.7124 * inst.n ** 0.5 * (1 + 0.33 / inst.n), "BHH estimate"
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    return {"instance": inst.name, "key": key, "n": inst.n, "edge_weight_type": inst.edge_weight_type,
            "time_limit": time_limit, "runtime_s": round(result.runtime_s, 3), "feasible": result.feasible,
            "cost": result.cost if result.feasible else None, "reference": ref, "reference_kind": ref_kind,
            "gap_pct": round(100 * (result.cost / ref - 1), 3) if result.feasible else None,
            "within_budget": result.runtime_s <= 1.1 * time_limit + 0.5,
            "candidates": result.info.get("candidates"), "status": result.info.get("status"),
            "child_peak_rss_mb": round(children, 1),
            "parent_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def plan(args) -> list[tuple[str, float]]:
    """(instance key, T) for every run, smallest first."""
    import ncosolve
    from ncosolve.benchmarks import data_dir
    only = set(args.only.split(",")) if args.only else None
    jobs = []
    for path in sorted((data_dir() / "tsplib").glob("*.tsp")):
        if only is not None and path.stem not in only:
            continue
        inst = ncosolve.read_instance(path)
        if args.min_nodes <= inst.n <= args.max_nodes:
            t = args.time_limit if args.time_limit is not None else max(10.0, 0.01 * inst.n)
            jobs.append((inst.n, f"tsplib:{path.stem}", t))
    jobs.sort()
    out = [(key, t) for _, key, t in jobs]
    out += [(f"tsp10000-fu:{k}", args.fu_time_limit) for k in range(args.fu_instances)]
    if not args.no_20k:
        out.append(("uniform:20000:2021", max(10.0, 0.01 * 20000)))
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.one is not None:
        key, t = args.one.rsplit("@", 1)
        print(json.dumps(solve_one(key, float(t))))
        return 0
    rows, ok = [], True
    print(f"{'instance':<18} {'N':>6} {'T s':>6} {'runtime s':>9} {'gap %':>7} {'cand.':>9} "
          f"{'child RSS MB':>12}  status")
    for key, t in plan(args):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--one", f"{key}@{t}"], capture_output=True, text=True,
                              timeout=3 * t + 120)
        if proc.returncode:
            row = {"key": key, "time_limit": t, "error": proc.stderr.strip()[-500:], "feasible": False,
                   "within_budget": False}
            print(f"{key:<18} failed: {row['error'][-200:]}")
        else:
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["process_wall_s"] = round(time.perf_counter() - start, 2)
            gap = f"{row['gap_pct']:.3f}" if row["gap_pct"] is not None else "-"
            if row["reference_kind"] != "best_known":
                gap += "*"
            print(f"{row['instance']:<18} {row['n']:>6} {t:>6.0f} {row['runtime_s']:>9.2f} {gap:>7} "
                  f"{row['candidates'] or '-':>9} {row['child_peak_rss_mb']:>12.0f}  {row['status']}", flush=True)
        ok &= bool(row["feasible"] and row["within_budget"])
        if row.get("n", 0) >= 20000:
            ok &= row["child_peak_rss_mb"] <= RSS_LIMIT_MB
        rows.append(row)
    print("(* gap to the BHH estimate, not to an optimum)")
    from importlib.metadata import version
    report = {"benchmark": "lkh_scaling", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()},
              "elkai": version("elkai"), "budget_rule": "runtime_s <= 1.1 * T + 0.5",
              "all_passed": ok, "instances": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}; all feasible and within budget: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
