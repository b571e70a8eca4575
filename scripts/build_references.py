"""Compute, once, the stored per-instance references of the generated routing suites (``ncosolve.suites.routing``)
and of the MAPF and network-design suites (``mapf-movingai``, ``mapf-lifelong``, ``ndp-synthetic``,
``dndp-siouxfalls``).

Routing: each instance is solved by the strongest installed method for its problem (``method="auto"``: LKH-3
for TSP, PyVRP for CVRP when installed) under the budget below.

MAPF and network design: each instance is first given to the exact method (``EXACT``: CBS for one-shot MAPF,
enumeration for network design), whose answer is the proven optimum when it finishes in time; an instance
without a proof is then solved by every other installed method for its problem at ``--budget`` seconds, and
the best value any of them reaches (lowest, or highest for a maximised objective) is the reference. One-shot
MAPF documents also hold ``lower_bounds``: the sum of the agents' shortest-path lengths.

Every value is checked by ``evaluate`` and written with how it was made to
``ncosolve/data/references/<suite>.json``.

    python scripts/build_references.py --suite tsp50-uniform --suite cvrp50-uniform
    python scripts/build_references.py --all --jobs 16   # every generated routing suite, 16 instances at once
    python scripts/build_references.py --suite mapf-movingai --suite ndp-synthetic --jobs 2

Instances are solved in ``--jobs`` worker processes through the leaderboard harness (one core each);
serially, TSP 500 takes about 16 x 30 s and TSP 1000 about 16 x 60 s.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing as mp
import platform
import time
from importlib import metadata

import ncosolve
import ncosolve.suites.routing as gen
from ncosolve import leaderboard as lb
from ncosolve.benchmarks import get_suite, reference_path
from ncosolve.references import FINGERPRINTS, build_fingerprints
from ncosolve.runner import Job, LocalRunner
from ncosolve.catalog import get_method
from ncosolve.solve import auto_method

# seconds per instance, by (problem, size): enough for LKH-3 / PyVRP to settle on these sizes
BUDGETS = {("tsp", 50): 2.0, ("tsp", 100): 3.0, ("tsp", 500): 30.0, ("tsp", 1000): 60.0,
           ("cvrp", 50): 5.0, ("cvrp", 100): 10.0}
METHOD_SEED = 0
NOT_SHIPPED = ("dndp-siouxfalls",)  # read from a path: fingerprinted when first used, not stored


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _run(suite: str, pairs: list[tuple], budget: float, show, jobs: int) -> list[dict]:
    """Leaderboard rows of (instance, method) pairs at ``budget``, ``jobs`` worker processes of one core each."""
    todo = [Job(inst, name, budget, METHOD_SEED, suite=suite) for inst, name in pairs]
    rows: list = [None] * len(todo)
    done = 0

    def on_done(index, outcome) -> None:
        nonlocal done
        rows[index] = lb.row_of(todo[index], outcome)
        done += 1
        show(rows[index], done, len(todo))

    LocalRunner(jobs, threads=1).run(todo, on_done)
    return rows


def build(suite: str, jobs: int = 1) -> dict:
    """Solve every instance of ``suite`` once with the strongest method; the reference document."""
    problem, size, count = gen.GENERATED[suite]
    instances = ncosolve.load_benchmark(suite)
    method = auto_method(instances[0])
    budget = BUDGETS[(problem, size)]
    values, started = {}, time.perf_counter()

    def show(row: dict, done: int, total: int) -> None:
        print(f"{suite} {row['instance']}: {row['cost']} ({row['runtime_s']:.1f} s) [{done}/{total}]", flush=True)

    rows = _run(suite, [(inst, method) for inst in instances], budget, show, jobs)
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


# suites whose references are the best of exact methods, else of every installed method
BEST_OF = ("mapf-movingai", "mapf-lifelong", "ndp-synthetic", "dndp-siouxfalls")
# exact methods per problem: (name, budget in s, the info key that says optimality was proved, or None: always)
# (CP-SAT is left out: on these maps it proves nothing CBS does not, and needs gigabytes beyond ~12 agents)
EXACT = {"mapf": (("mapf-cbs", 30.0, None),), "ndp": (("ndp-exact", 300.0, "complete"),)}
SKIPPED = ("mapf-cpsat",)  # nor is it run as a heuristic
OBJECTIVES = {"mapf": "sum of costs", "mapf-lifelong": "throughput", "ndp": "total travel time at user equilibrium"}


def exact_solve(suite: str, index: int, method: str, limit: float, key: str | None) -> tuple:
    """(cost, proven optimal?, summary) of exact ``method`` on instance ``index`` of ``suite``."""
    inst = ncosolve.load_benchmark(suite)[index]
    try:
        result = ncosolve.solve(inst, method=method, time_limit=limit, seed=METHOD_SEED)
    except ncosolve.NcoError as exc:  # e.g. too many candidates / agents for the exact method
        return None, False, f"{method}: {exc}"
    proved = result.feasible and (key is None or bool(result.info.get(key)))
    return result.cost, proved, result.summary() + (", proven optimal" if proved else "")


def soc_lower_bound(instance) -> int:
    """Sum over agents of the 4-connected shortest-path length to the goal: a lower bound on the sum of costs."""
    from ncosolve.problems.mapf import distance_maps, to_ids

    dist = distance_maps(instance.grid, instance.goals)
    return int(dist[range(instance.num_agents), to_ids(instance.starts, instance.grid.shape[1])].sum())


def how_text(spec, proven: int, count: int, methods: list[str], budget: float) -> str:
    """What the stored references of a best-of suite are, for ``ncosolve benchmarks`` and the files."""
    exact = ", ".join(name for name, _, _ in EXACT.get(spec.problem, ()))
    best = f"{'highest' if spec.maximise else 'lowest'} {OBJECTIVES[spec.problem]} found by any of " \
           f"{', '.join(methods)} at {budget:g} s each"
    bound = ", or equal to the sum of shortest paths" if spec.problem == "mapf" else ""
    parts = [f"proven optimum ({exact}{bound}) on {proven} of {count} instances"] if exact else []
    if methods:
        parts.append(("else the " if parts else "the ") + best)
    sign = "(reference - value)" if spec.maximise else "(value - reference)"
    return ", ".join(parts) + f"; stored, gap % = {sign} / reference, positive when worse"


def build_best_of(suite: str, budget: float, jobs: int = 1) -> dict:
    """References of a MAPF / network-design suite: proven optima from the exact methods where they finish,
    else the best value of every installed method at ``budget`` seconds (see the module docstring)."""
    spec = get_suite(suite)
    instances = ncosolve.load_benchmark(suite)
    started = time.perf_counter()
    values, found_by, optimal = {}, {}, []
    # exact solves in a spawned process: JAX (network design) must not run in a process that later forks workers
    with mp.get_context("spawn").Pool(1) as pool:
        for k, inst in enumerate(instances):
            for method, limit, key in EXACT.get(inst.problem, ()):
                if not get_method(method).available:
                    continue
                cost, proved, summary = pool.apply(exact_solve, (suite, k, method, limit, key))
                print(f"{suite} {inst.name}: {summary}", flush=True)
                if proved:
                    values[inst.name], found_by[inst.name] = cost, method
                    optimal.append(inst.name)
                    break
    rest = [inst for inst in instances if inst.name not in values]
    exact = {name for name, _, _ in EXACT.get(spec.problem, ())}
    methods = [m for m in lb.select_methods(rest) if m.name not in exact | set(SKIPPED)] if rest else []
    jobs_list = [(inst, m.name) for inst in rest for m in methods if inst.problem in m.problems]

    def show(row: dict, done: int, total: int) -> None:
        print(f"{suite} {row['instance']} {row['method']}: {row['cost']} ({row['runtime_s']:.1f} s) "
              f"[{done}/{total}]", flush=True)

    for row in _run(suite, jobs_list, budget, show, jobs):
        name, cost = row["instance"], row["cost"]
        if row["feasible"] and (name not in values or (cost > values[name] if spec.maximise else cost < values[name])):
            values[name], found_by[name] = cost, row["method"]
    missing = [inst.name for inst in instances if inst.name not in values]
    if missing:
        raise SystemExit(f"{suite}: no method found a feasible solution of {', '.join(missing)}")
    extra = {}
    if spec.problem == "mapf":  # a sum of costs equal to the sum of shortest paths is optimal too
        extra["lower_bounds"] = {inst.name: soc_lower_bound(inst) for inst in instances}
        optimal += [name for name, bound in extra["lower_bounds"].items()
                    if name not in optimal and values[name] == bound]
    how = how_text(spec, len(optimal), len(instances), [m.name for m in methods], budget)
    return {
        "suite": suite, "problem": spec.problem, "count": len(instances), "maximise": spec.maximise, "how": how,
        "exact": {name: limit for name, limit, _ in EXACT.get(spec.problem, ())}, "time_limit": budget,
        "seed": METHOD_SEED, "methods": [m.name for m in methods], "optimal": optimal, "found_by": found_by,
        "versions": {d: _version(d) for d in ("ncosolve", "ortools", "numpy", "jax")},
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "command": f"python scripts/build_references.py --suite {suite} --budget {budget:g}",
        "mean": sum(values.values()) / len(values),
        "values": values,
        **extra,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", action="append", choices=sorted(gen.GENERATED) + list(BEST_OF), default=[],
                        help="a suite (repeatable)")
    parser.add_argument("--all", action="store_true", help="every generated routing suite")
    parser.add_argument("--fingerprints", action="store_true",
                        help="(re)write data/references/fingerprints.json: the data fingerprint of every instance of "
                             "every shipped suite, which binds each reference to its instance")
    parser.add_argument("--jobs", type=int, default=1, help="instances solved at once (one core each)")
    parser.add_argument("--budget", type=float, default=10.0,
                        help="seconds per method and instance for the MAPF / network-design suites")
    args = parser.parse_args()
    if args.fingerprints:
        shipped = [s.name for s in ncosolve.benchmarks.suites() if s.name not in NOT_SHIPPED]
        path = reference_path("x").with_name(FINGERPRINTS)
        path.write_text(json.dumps(build_fingerprints(shipped), indent=0, sort_keys=True) + "\n")
        print(f"wrote {path}")
        return
    chosen = sorted(gen.GENERATED) if args.all else args.suite
    if not chosen:
        parser.error("give --suite NAME (repeatable), --all or --fingerprints")
    for suite in chosen:
        doc = build_best_of(suite, args.budget, args.jobs) if suite in BEST_OF else build(suite, args.jobs)
        path = reference_path(suite)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {path}: mean {doc['mean']:.4f} over {doc['count']} instances in {doc['seconds']} s")


if __name__ == "__main__":
    main()
