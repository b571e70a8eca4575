"""Compute, once, the stored per-instance references of the generated suites (``ncosolve.suites_generated``).

Each instance is solved by the strongest installed method for its problem (``method="auto"``: LKH-3 for
TSP, PyVRP for CVRP when installed) under the budget below, and the cost (checked by ``evaluate``) is
written with how it was made to ``ncosolve/data/references/<suite>.json``.

    python scripts/build_references.py --suite tsp50-uniform --suite cvrp50-uniform
    python scripts/build_references.py --all --jobs 16   # every generated suite, 16 instances at once

Instances are solved in ``--jobs`` worker processes through the leaderboard harness (one core each);
serially, TSP 500 takes about 16 x 30 s and TSP 1000 about 16 x 60 s.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from importlib import metadata

import ncosolve
import ncosolve.suites_generated as gen
from ncosolve import leaderboard as lb
from ncosolve.solve import auto_method

# seconds per instance, by (problem, size): enough for LKH-3 / PyVRP to settle on these sizes
BUDGETS = {("tsp", 50): 2.0, ("tsp", 100): 3.0, ("tsp", 500): 30.0, ("tsp", 1000): 60.0,
           ("cvrp", 50): 5.0, ("cvrp", 100): 10.0}
METHOD_SEED = 0


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def build(suite: str, jobs: int = 1) -> dict:
    """Solve every instance of ``suite`` once with the strongest method; the reference document."""
    problem, size, count = gen.GENERATED[suite]
    instances = ncosolve.load_benchmark(suite)
    method = auto_method(instances[0])
    budget = BUDGETS[(problem, size)]
    values, started = {}, time.perf_counter()

    def show(row: dict, done: int, total: int) -> None:
        print(f"{suite} {row['instance']}: {row['cost']} ({row['runtime_s']:.1f} s) [{done}/{total}]", flush=True)

    rows = lb.run_jobs(suite, [(inst, method) for inst in instances], budget, METHOD_SEED, show, workers=jobs,
                       threads=1)
    for row in rows:
        if not row["feasible"]:
            raise SystemExit(f"{suite}: {method} gave no reference for {row['instance']}: {row['reason']}")
        values[row["instance"]] = row["cost"]
    return {
        "suite": suite, "problem": problem, "size": size, "count": count,
        "instances": f"ncosolve.generate({problem!r}, ..., {size}, seed={gen.SEED}), first {count} of "
                     f"Kool et al.'s {gen.KOOL_TEST_COUNT} draws",
        "method": method, "time_limit": budget, "seed": METHOD_SEED,
        "versions": {d: _version(d) for d in ("ncosolve", "elkai", "pyvrp", "ortools", "numpy")},
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "command": f"python scripts/build_references.py --suite {suite}",
        "mean": sum(values.values()) / len(values),
        "values": values,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", action="append", choices=sorted(gen.GENERATED), default=[],
                        help="a generated suite (repeatable)")
    parser.add_argument("--all", action="store_true", help="every generated suite")
    parser.add_argument("--jobs", type=int, default=1, help="instances solved at once (one core each)")
    args = parser.parse_args()
    chosen = sorted(gen.GENERATED) if args.all else args.suite
    if not chosen:
        parser.error("give --suite NAME (repeatable) or --all")
    for suite in chosen:
        doc = build(suite, args.jobs)
        path = gen.reference_path(suite)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {path}: mean {doc['mean']:.4f} over {doc['count']} instances in {doc['seconds']} s")


if __name__ == "__main__":
    main()
