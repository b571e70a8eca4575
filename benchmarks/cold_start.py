"""The budget contract on a cold machine (issue 20): what a new user's first calls cost.

Each figure is measured in fresh Python processes, so nothing is warm but the OS file cache:

- ``import``: seconds of ``import ncosolve`` alone against ``import ncosolve; ncosolve.methods()``, alternating
  ``--repeats`` times; the ratio of medians (target <= 1.5), and which heavy modules the listing left imported.
- ``solve``: the first ``solve(read_instance(kroA150.tsp) (the issue measured kroB150, which does not ship), method="ortools", time_limit=T)`` of a process: wall
  seconds of the call, its ``runtime_s`` and ``prepare_s``; the rule is wall - prepare_s <= 1.1 T + 0.5 s.
- ``reference``: ``best_known`` of ``generate("cvrp", n=1, size=50, seed=1234)[0]``, an instance that shares
  its name with an instance of the ``cvrp50-uniform`` suite (target: None).
- ``leaderboard`` (``--leaderboard``): ``ncosolve leaderboard --suite quick -t T`` twice in fresh processes, first
  with empty compilation caches (``NUMBA_CACHE_DIR`` a new folder, ``NCOSOLVE_JAX_CACHE`` one inside it), then
  warm (same caches, new results folder):
  runs over budget and killed per run, and each method's mean gap cold against warm (target: 0 over, 0 killed,
  gaps within 0.5 points).

    python benchmarks/cold_start.py [--repeats 5] [--time-limit 5] [--leaderboard] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HEAVY = ("torch", "jax", "ortools", "numba", "rl4co", "pyvrp", "elkai", "lightning", "ray")

_IMPORT = """
import time, sys
t = time.perf_counter()
import ncosolve
{extra}
print(time.perf_counter() - t)
print(" ".join(m for m in {heavy!r} if m in sys.modules))
"""

_SOLVE = """
import json, time
t = time.perf_counter()
import ncosolve
from ncosolve.benchmarks import data_dir
inst = ncosolve.read_instance(data_dir() / "tsplib" / "kroA150.tsp")
t0 = time.perf_counter()
res = ncosolve.solve(inst, method="ortools", time_limit={T})
wall = time.perf_counter() - t0
print(json.dumps({{"wall_s": wall, "runtime_s": res.runtime_s, "prepare_s": res.info.get("prepare_s", 0.0),
                  "import_s": t0 - t, "cost": res.cost}}))
"""

_REFERENCE = """
import ncosolve
print(repr(ncosolve.best_known(ncosolve.generate("cvrp", n=1, size=50, seed=1234)[0])))
"""


def _python(code: str, env: dict | None = None) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return out.stdout.strip().splitlines()


def import_figure(repeats: int) -> dict:
    """Median seconds of ``import ncosolve`` and of ``import ncosolve; ncosolve.methods()``, alternating."""
    plain, listed, left = [], [], ""
    for _ in range(repeats):
        plain.append(float(_python(_IMPORT.format(extra="", heavy=HEAVY))[0]))
        lines = _python(_IMPORT.format(extra="ncosolve.methods()", heavy=HEAVY))
        listed.append(float(lines[0]))
        left = lines[1] if len(lines) > 1 else ""
    a, b = statistics.median(plain), statistics.median(listed)
    return {"import_s": a, "import_and_methods_s": b, "ratio": b / a, "heavy_modules_after_methods": left.split(),
            "target_ratio": 1.5}


def solve_figure(time_limit: float) -> dict:
    """The first ``ortools`` solve of a fresh process and the budget rule on wall minus prepare."""
    doc = json.loads(_python(_SOLVE.format(T=time_limit))[-1])
    doc["time_limit"] = time_limit
    doc["allowed_s"] = 1.1 * time_limit + 0.5
    doc["wall_minus_prepare_s"] = doc["wall_s"] - doc["prepare_s"]
    doc["holds"] = doc["wall_minus_prepare_s"] <= doc["allowed_s"]
    return doc


def reference_figure() -> dict:
    value = _python(_REFERENCE)[-1]
    return {"best_known_of_generated_cvrp50_seed1234": value, "holds": value == "None"}


def _leaderboard(folder: Path, cache: Path, time_limit: float) -> dict:
    """One ``ncosolve leaderboard --suite quick`` run; its JSON document."""
    cmd = [sys.executable, "-c", "import sys; from ncosolve.cli import main; main(sys.argv[1:])", "leaderboard", "--suite", "quick", "-t", str(time_limit),
           "--results", str(folder)]
    caches = {"NUMBA_CACHE_DIR": str(cache), "NCOSOLVE_JAX_CACHE": str(cache / "jax")}
    subprocess.run(cmd, check=True, env={**os.environ, **caches},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads((folder / "leaderboard.json").read_text())


def _counts(doc: dict) -> dict:
    rows = doc["rows"]
    over = [f"{r['method']}@{r['instance']}" for r in rows
            if r.get("timed_out") or r.get("within_budget") is False]
    killed = [f"{r['method']}@{r['instance']}" for r in rows if str(r.get("reason", "")).startswith("killed")]
    gaps: dict[str, list] = {}
    for r in rows:
        counted = r["feasible"] and not r.get("timed_out") and r.get("within_budget", True)
        if counted and r.get("gap") is not None:
            gaps.setdefault(f"{r['problem']}:{r['method']}", []).append(r["gap"])
    return {"runs": len(rows), "over_budget": over, "killed": killed,
            "mean_gap": {k: statistics.mean(v) for k, v in sorted(gaps.items())}}


def leaderboard_figure(time_limit: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "numba-cache"
        cold = _counts(_leaderboard(Path(tmp) / "cold", cache, time_limit))
        warm = _counts(_leaderboard(Path(tmp) / "warm", cache, time_limit))
    diff = {k: cold["mean_gap"][k] - warm["mean_gap"].get(k, float("nan")) for k in cold["mean_gap"]}
    worst = max((abs(v) for v in diff.values()), default=0.0)
    return {"time_limit": time_limit, "cold": cold, "warm": warm, "gap_cold_minus_warm": diff,
            "worst_gap_difference": worst,
            "holds": not cold["over_budget"] and not cold["killed"] and worst <= 0.5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per import measurement")
    parser.add_argument("--time-limit", type=float, default=5.0, help="budget of the first ortools solve")
    parser.add_argument("--leaderboard", action="store_true", help="also the cold / warm quick leaderboard")
    parser.add_argument("--leaderboard-time-limit", type=float, default=2.0,
                        help="seconds per run of the quick leaderboard")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cold_start.json"), help="JSON output")
    args = parser.parse_args()

    doc = {"import": import_figure(args.repeats), "solve": solve_figure(args.time_limit),
           "reference": reference_figure()}
    if args.leaderboard:
        doc["leaderboard"] = leaderboard_figure(args.leaderboard_time_limit)
    imp, sol = doc["import"], doc["solve"]
    print(f"import ncosolve            {imp['import_s']:.2f} s")
    print(f"import + methods()         {imp['import_and_methods_s']:.2f} s   ratio {imp['ratio']:.2f} (target <= 1.5)"
          f"   heavy modules left: {' '.join(imp['heavy_modules_after_methods']) or 'none'}")
    print(f"first ortools solve, T={sol['time_limit']:g}  wall {sol['wall_s']:.2f} s, prepare {sol['prepare_s']:.2f} s, "
          f"runtime {sol['runtime_s']:.2f} s; wall - prepare {sol['wall_minus_prepare_s']:.2f} s "
          f"<= {sol['allowed_s']:.2f}: {sol['holds']}")
    print(f"best_known(generated cvrp50 seed 1234) = {doc['reference']['best_known_of_generated_cvrp50_seed1234']}")
    if "leaderboard" in doc:
        lbd = doc["leaderboard"]
        print(f"leaderboard quick -t {lbd['time_limit']:g}: cold over budget {lbd['cold']['over_budget']}, killed "
              f"{lbd['cold']['killed']}; warm over budget {lbd['warm']['over_budget']}, killed {lbd['warm']['killed']}")
        print(f"{'problem:method':32s} {'cold gap %':>10s} {'warm gap %':>10s}")
        for key, value in lbd["cold"]["mean_gap"].items():
            print(f"{key:32s} {value:10.2f} {lbd['warm']['mean_gap'].get(key, float('nan')):10.2f}")
        print(f"worst |cold - warm| {lbd['worst_gap_difference']:.2f} points; holds: {lbd['holds']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
