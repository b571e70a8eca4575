"""Reliability figures (issue 8): fuzzed inputs and crashes, budget overruns under load, peak memory.

Fuzzing (default, or ``--fuzz``)
--------------------------------
Each reader (TSPLIB, VRPLIB, Solomon, MovingAI .map/.scen, TNTP net/trips, DNDP, solution files) is fed
``--per-seed`` mutations of each real seed file listed in ``tests/fuzz/fuzzing.py`` (1-4 of: truncation,
dropped/duplicated/swapped lines, tokens replaced by garbage/NaN/huge/negative values, shuffled sections),
drawn from ``random.Random(--seed)``. An input is *loaded* or *refused* (an ``ncosolve.NcoError``); anything
else — another exception type, more than 5 s (a hang), or a blown 3 GiB allocation cap — is a *crash*, and
the first reproducer of each (reader, exception) is kept.

    python benchmarks/reliability.py [--per-seed 200] [--seed 0] [--out benchmarks/results/reliability.json]

Budgets under load (``--budgets``)
----------------------------------
Two extra processes burn a CPU core each for the whole run. Every registered method (installed extras
only) runs on representative instances of each family it solves (``BUDGET_CASES``: TSP eil51 and rat783,
CVRP X-n101-k25 and X-n979-k58, CVRPTW R201, MAPF random-32-32-10 with 30 agents and the 20-agent
warehouse, lifelong MAPF on random-32-32-10, network design on Braess, a 4x4 grid city with 10 candidate
links and a 3x3 city with 24 lane additions) under each budget ``T`` (default 1 s and 3 s). The run at the first
budget is each method's first call in the process (cold): compilation, imports and checkpoint loading are its
reported ``prepare_s``, outside the budget. A run *overruns* when the wall time of ``solve()`` less its
``prepare_s`` exceeds 1.1 T + 0.5 s (target: 0); a method refusing the instance (``NcoError``, e.g. CBS beyond 10 agents) is
counted as refused, not as a run.

    python benchmarks/reliability.py --budgets [--budget 1 --budget 3] [--method NAME ...] [--burners 2]
        [--budgets-out benchmarks/results/reliability_budgets.json]

Peak memory (``--memory``)
--------------------------
Each case of ``MEMORY_CASES`` runs in a fresh Python process (``--memory-child NAME``): import ncosolve, build
the instance, reset the kernel's high-water mark (``/proc/self/clear_refs``), ``solve()``, then read
``VmHWM`` from ``/proc/self/status``. Reported: the process's peak RSS over its whole life (what a user's
process needs; ``ru_maxrss``), the peak during ``solve()`` alone, and the RSS before it; each against the
case's stated ceiling.

    python benchmarks/reliability.py --memory [--memory-out benchmarks/results/reliability_memory.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fuzz"))
from fuzzing import Hang, mutate, outcome, read_mutated, seeds  # noqa: E402


def fuzz(per_seed: int, seed: int) -> tuple[dict, list[dict]]:
    """Counts per reader (inputs, loaded, refused, crashes) and the first reproducer of each distinct crash."""
    rng = random.Random(seed)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"inputs": 0, "loaded": 0, "refused": 0, "crashes": 0})
    crashes: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory() as work:
        for s in seeds(Path(work)):
            original = s.path.read_text(errors="replace")
            for _ in range(per_seed):
                text = mutate(original, rng.randint)
                row = counts[s.reader]
                row["inputs"] += 1
                try:
                    row[outcome(read_mutated(s, text))] += 1
                except (Exception, Hang) as exc:  # noqa: BLE001  (counting every escape is the point)
                    row["crashes"] += 1
                    key = (s.reader, type(exc).__name__)
                    crashes.setdefault(key, {"reader": s.reader, "seed_file": s.id, "exception": type(exc).__name__,
                                             "message": str(exc)[:300], "input": text[:2000], "count": 0})
                    crashes[key]["count"] += 1
    return dict(counts), list(crashes.values())


def _suite_instance(suite: str, name: str):
    """Instance ``name`` of the shipped suite ``suite``."""
    import ncosolve

    return next(i for i in ncosolve.load_benchmark(suite) if i.name == name)


def _braess():
    from ncosolve.problems.network_generators import braess

    return braess()


def _grid_dndp():
    from ncosolve.problems.network_generators import dndp_instance, grid_city

    return dndp_instance(grid_city(4, 4, seed=0)[0], num_candidates=10, seed=0)


# (label, problem, loader): representative instances per family, small and large where size matters.
BUDGET_CASES: list[tuple[str, str, Callable]] = [
    ("eil51", "tsp", lambda: _suite_instance("tsplib", "eil51")),
    ("rat783", "tsp", lambda: _suite_instance("tsplib-1000", "rat783")),
    ("X-n101-k25", "cvrp", lambda: _suite_instance("cvrplib-X", "X-n101-k25")),
    ("X-n979-k58", "cvrp", lambda: _suite_instance("cvrplib-X", "X-n979-k58")),
    ("R201", "cvrptw", lambda: _suite_instance("solomon-R2", "R201")),
    ("random-32-32-10-a30", "mapf", lambda: _suite_instance("mapf-movingai", "random-32-32-10-random-1-30")),
    ("warehouse-a20", "mapf", lambda: _suite_instance("mapf-movingai", "warehouse-10-20-10-2-1-20-s0")),
    ("random-32-32-10-lifelong", "mapf-lifelong",
     lambda: _suite_instance("mapf-lifelong", "random-32-32-10-lifelong-a16-h64")),
    ("Braess-dndp", "ndp", _braess),
    ("grid4x4-dndp10", "ndp", _grid_dndp),
    ("grid3x3-la24", "ndp", lambda: _suite_instance("ndp-synthetic", "grid3x3-s2-la0.3")),
]


def within_budget(seconds: float, time_limit: float) -> bool:
    """The budget contract of issue 8: at most 10% + 0.5 s over the time limit."""
    return seconds <= 1.1 * time_limit + 0.5


@contextlib.contextmanager
def cpu_burners(count: int) -> Iterator[list[subprocess.Popen]]:
    """``count`` processes spinning a core each while the block runs; stopped (by their pid) after, and ending
    by themselves if this process dies first."""
    spin = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


class _Abandoned(Exception):
    """Raised by the alarm in a solve that ran far past its budget."""


def _abandon(signum, frame):
    raise _Abandoned


def timed_solve(instance, method: str, time_limit: float, cap: float | None = None) -> dict:
    """``ncosolve.prepare`` (imports, compilation, checkpoint loading: outside the budget, by the contract), then
    the wall time of one ``solve()`` less the preparation it still reports, the preparation, and what came back:
    ``status`` is
    solved, infeasible, refused (NcoError) or abandoned (still running after ``cap`` seconds, default 5 T + 10 s,
    interrupted by SIGALRM where the method runs Python code)."""
    import signal

    import ncosolve

    cap = 5 * time_limit + 10 if cap is None else cap
    try:  # the preparation (imports, compilation) first, outside the cap as outside the budget
        prepared = ncosolve.prepare(instance, method)
    except ncosolve.NcoError as exc:
        return {"wall_s": 0.0, "prepare_s": 0.0, "status": "refused", "note": str(exc)[:200]}
    previous = signal.signal(signal.SIGALRM, _abandon)
    signal.setitimer(signal.ITIMER_REAL, cap, 1.0)  # repeats: an alarm landing in a callback that swallows it
    start, prepare_s = time.perf_counter(), 0.0
    try:
        try:
            result = ncosolve.solve(instance, method, time_limit=time_limit, seed=0)
            prepare_s = result.info.get("prepare_s", 0.0)
        finally:  # first thing once the solve ends or unwinds: no further alarms
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            signal.setitimer(signal.ITIMER_REAL, 0)
        status = "solved" if result.feasible else "infeasible"
        note = result.info.get("infeasible_reason", "")
    except ncosolve.NcoError as exc:
        status, note = "refused", str(exc)
    except _Abandoned:
        status, note = "abandoned", f"still running after {cap:.0f} s"
    finally:
        signal.signal(signal.SIGALRM, previous)
    return {"wall_s": time.perf_counter() - start - prepare_s, "prepare_s": prepared + prepare_s, "status": status,
            "note": note[:200]}


def budget_runs(cases, budgets: list[float], method_names: list[str] | None = None) -> list[dict]:
    """One row per (method, instance, budget): wall time, ratio to the budget, overrun, status."""
    import ncosolve

    rows = []
    for label, problem, load in cases:
        instance = load()
        for spec in ncosolve.methods(problem, available_only=True):
            if method_names and spec.name not in method_names:
                continue
            cold = timed_solve(instance, spec.name, budgets[0])  # the method's first call here: counted too
            for k, budget in enumerate(budgets):
                skip = cold["status"] in ("refused", "abandoned")
                run = cold if skip or k == 0 else timed_solve(instance, spec.name, budget)
                rows.append({"method": spec.name, "family": problem, "instance": label, "budget_s": budget,
                             "cold_s": round(cold["wall_s"], 3), "prepare_s": round(run["prepare_s"], 3),
                             "wall_s": round(run["wall_s"], 3),
                             "ratio": round(run["wall_s"] / budget, 3), "status": run["status"],
                             "overrun": run["status"] != "refused" and not within_budget(run["wall_s"], budget),
                             "note": run["note"]})
                print(f"{spec.name:<20}{label:<26}{budget:>5.1f}{run['wall_s']:>8.2f}{cold['wall_s']:>8.2f}  "
                      f"{run['status']}{'  OVERRUN' if rows[-1]['overrun'] else ''}", flush=True)
    return rows


def budgets_table(rows: list[dict]) -> list[dict]:
    """Per (method, family, budget): runs, the largest wall time / budget, overruns, refusals."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["method"], r["family"], r["budget_s"]].append(r)
    out = []
    for (method, family, budget), rs in sorted(groups.items()):
        ran = [r for r in rs if r["status"] != "refused"]
        out.append({"method": method, "family": family, "budget_s": budget, "runs": len(ran),
                    "refused": len(rs) - len(ran), "max_ratio": max((r["ratio"] for r in ran), default=None),
                    "max_wall_s": max((r["wall_s"] for r in ran), default=None),
                    "overruns": sum(r["overrun"] for r in ran)})
    return out


def budgets_main(args) -> None:
    """Run the budgets part, print the summary table and write the JSON."""
    import os
    import platform

    import torch

    torch.set_num_threads(1)
    cases = [c for c in BUDGET_CASES if not args.case or c[0] in args.case]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()
    with cpu_burners(args.burners):
        rows = budget_runs(cases, args.budget, args.method)
    table = budgets_table(rows)
    print(f"\n{'method':<20}{'family':<15}{'T':>5}{'runs':>6}{'max wall/T':>12}{'overruns':>10}{'refused':>9}")
    for t in table:
        ratio = f"{t['max_ratio']:.2f}" if t["max_ratio"] is not None else "-"
        print(f"{t['method']:<20}{t['family']:<15}{t['budget_s']:>5.1f}{t['runs']:>6}{ratio:>12}"
              f"{t['overruns']:>10}{t['refused']:>9}")
    overruns = sum(t["overruns"] for t in table)
    print(f"overruns: {overruns} of {sum(t['runs'] for t in table)} runs")
    args.budgets_out.parent.mkdir(parents=True, exist_ok=True)
    args.budgets_out.write_text(json.dumps({
        "date": started, "machine": f"{platform.machine()}, {os.cpu_count()} cores", "burners": args.burners,
        "loadavg_before": [round(x, 2) for x in load_before], "budgets_s": args.budget,
        "rule": "overrun when wall time of solve() > 1.1 T + 0.5 s", "overruns": overruns,
        "table": table, "runs": rows}, indent=2) + "\n")


def _tsp10000():
    import ncosolve

    return ncosolve.load_benchmark("tsp10000-fu")[0]


def _cvrp1000():
    import ncosolve

    return ncosolve.generate("cvrp", 1, 1000, seed=0)[0]


# name -> (instance loader, method, time limit in s, ceiling on the process's peak RSS in MiB)
MEMORY_CASES: dict[str, tuple[Callable, str, float, int]] = {
    "tsp10000-mcts": (_tsp10000, "mcts", 20.0, 2048),
    "cvrp1000-attention": (_cvrp1000, "attention", 10.0, 2048),
}


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def memory_child(name: str) -> dict:
    """Run one memory case in this (fresh) process and measure it; see the module docstring."""
    import resource

    import torch

    import ncosolve

    torch.set_num_threads(1)
    load, method, time_limit, ceiling = MEMORY_CASES[name]
    instance = load()
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    start = time.perf_counter()
    result = ncosolve.solve(instance, method, time_limit=time_limit, seed=0)
    wall = time.perf_counter() - start
    solve_peak = _status_kib("VmHWM")
    process_peak = max(solve_peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return {"case": name, "method": method, "n": instance.n, "time_limit_s": time_limit, "wall_s": round(wall, 2),
            "feasible": result.feasible, "cost": result.cost, "rss_before_mib": round(before / 1024),
            "solve_peak_mib": round(solve_peak / 1024), "process_peak_mib": round(process_peak / 1024),
            "ceiling_mib": ceiling, "within_ceiling": process_peak / 1024 <= ceiling}


def measure_memory(name: str, timeout: float = 600) -> dict:
    """``memory_child(name)`` in a fresh interpreter; its JSON line."""
    out = subprocess.run([sys.executable, __file__, "--memory-child", name], capture_output=True, text=True,
                         timeout=timeout, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def memory_main(args) -> None:
    """Run the memory part, print the table and write the JSON."""
    import os
    import platform

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()
    rows = [measure_memory(name) for name in MEMORY_CASES]
    print(f"{'case':<22}{'T':>6}{'wall':>7}{'before':>9}{'solve peak':>12}{'process peak':>14}{'ceiling':>9}")
    for r in rows:
        print(f"{r['case']:<22}{r['time_limit_s']:>6.0f}{r['wall_s']:>7.1f}{r['rss_before_mib']:>8}M"
              f"{r['solve_peak_mib']:>11}M{r['process_peak_mib']:>13}M{r['ceiling_mib']:>8}M")
    args.memory_out.parent.mkdir(parents=True, exist_ok=True)
    args.memory_out.write_text(json.dumps({
        "date": started, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "loadavg_before": [round(x, 2) for x in load_before], "cases": rows}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-seed", type=int, default=200, help="mutated inputs per seed file")
    parser.add_argument("--seed", type=int, default=0, help="seed of every solve")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "reliability.json",
                        help="JSON output of the main part")
    parser.add_argument("--fuzz", action="store_true", help="run the reader fuzzing (the default part)")
    parser.add_argument("--budgets", action="store_true", help="run the budgets-under-load part")
    parser.add_argument("--budget", type=float, action="append", help="budget in seconds (repeatable; 1 and 3)")
    parser.add_argument("--method", action="append", help="only these methods (repeatable)")
    parser.add_argument("--case", action="append", help="only these instances of BUDGET_CASES (repeatable)")
    parser.add_argument("--burners", type=int, default=2, help="CPU-burning processes during the budget runs")
    parser.add_argument("--budgets-out", type=Path,
                        default=Path(__file__).parent / "results" / "reliability_budgets.json",
                        help="JSON output of the budgets part")
    parser.add_argument("--memory", action="store_true", help="run the peak-memory part")
    parser.add_argument("--memory-child", choices=sorted(MEMORY_CASES), help=argparse.SUPPRESS)
    parser.add_argument("--memory-out", type=Path,
                        default=Path(__file__).parent / "results" / "reliability_memory.json",
                        help="JSON output of the memory part")
    args = parser.parse_args()
    args.budget = args.budget or [1.0, 3.0]
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child)))
        return
    if args.budgets:
        budgets_main(args)
    if args.memory:
        memory_main(args)
    if args.fuzz or not (args.budgets or args.memory):
        fuzz_main(args)


def fuzz_main(args) -> None:
    """Run the fuzzing part, print the table and write the JSON."""
    counts, crashes = fuzz(args.per_seed, args.seed)
    print(f"{'reader':<16}{'inputs':>8}{'loaded':>8}{'refused':>9}{'crashes':>9}")
    for reader, row in counts.items():
        print(f"{reader:<16}{row['inputs']:>8}{row['loaded']:>8}{row['refused']:>9}{row['crashes']:>9}")
    total = {k: sum(r[k] for r in counts.values()) for k in ("inputs", "loaded", "refused", "crashes")}
    print(f"{'total':<16}{total['inputs']:>8}{total['loaded']:>8}{total['refused']:>9}{total['crashes']:>9}")
    for c in crashes:
        print(f"crash: {c['reader']} ({c['seed_file']}) {c['exception']} x{c['count']}: {c['message'][:120]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"per_seed": args.per_seed, "seed": args.seed, "readers": counts,
                                    "total": total, "crashes": crashes}, indent=2) + "\n")


if __name__ == "__main__":
    main()
