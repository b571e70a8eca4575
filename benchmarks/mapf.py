"""MAPF benchmark: success, sum of costs, makespan and time per method on shipped MovingAI maps, and lifelong
throughput of the learned policy against PIBT and windowed replanning. Prints tables and writes JSON to
``benchmarks/results/mapf.json`` (``--json PATH`` elsewhere). Env speed against POGEMA: ``mapf_env_speed.py``.

Protocol: one-shot on seed 0; lifelong 256 steps on ``--seeds`` seeded instances per map (mean throughput;
the JSON keeps each seed's), the given time limit per (instance, method); numba kernels are compiled before
timing. A method may carry solve() options: ``mapf-learned:shield=false`` is the policy without its PIBT
collision shield.
Run: ``python benchmarks/mapf.py [--time-limit 10] [--seeds 10] [--only lifelong] [--methods mapf-learned]
[--checkpoint runs/.../best.pt]`` (``--checkpoint``: a Follower checkpoint for ``mapf-learned`` instead of the
shipped one, to compare a training run before shipping it).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import ncosolve
from ncosolve.benchmarks import data_dir
from ncosolve.cli import parse_options
from ncosolve.problems.mapf_generators import generate_mapf, generate_mapf_lifelong, warehouse_grid
from ncosolve.problems.mapf import mapf_metrics

MOVINGAI = data_dir() / "movingai"
ONE_SHOT = [  # (label, instance loader, methods)
    ("random-8x8 a6", lambda: generate_mapf("random", 6, seed=0, size=8, density=0.15),
     ["mapf-cbs", "mapf-cpsat", "mapf-lacam", "mapf-pibt", "mapf-prioritized", "mapf-learned"]),
    ("random-32-32-10 a100", lambda: ncosolve.read_instance(MOVINGAI / "random-32-32-10-random-1.scen", agents=100),
     ["mapf-lacam", "mapf-pibt", "mapf-prioritized", "mapf-learned", "mapf-learned:shield=false"]),
    ("random-32-32-10 a400", lambda: ncosolve.read_instance(MOVINGAI / "random-32-32-10-random-1.scen", agents=400),
     ["mapf-lacam", "mapf-pibt"]),
    ("warehouse-10-20-10-2-1 a1000",
     lambda: ncosolve.read_instance(MOVINGAI / "warehouse-10-20-10-2-1.map", agents=1000, seed=0),
     ["mapf-lacam", "mapf-pibt"]),
]
LIFELONG = [  # (label, instance loader of a seed); 256 steps as in the POGEMA benchmark
    ("random-20x20 a32", lambda s: generate_mapf_lifelong("random", 32, 256, seed=s, size=20, density=0.2)),
    ("random-20x20 a64", lambda s: generate_mapf_lifelong("random", 64, 256, seed=s, size=20, density=0.2)),
    ("maze-21x21 a32", lambda s: generate_mapf_lifelong("maze", 32, 256, seed=s, size=21)),
    ("warehouse-17x44 a128", lambda s: generate_mapf_lifelong("warehouse", 128, 256, seed=s, grid=warehouse_grid())),
]
LIFELONG_METHODS = ("mapf-learned", "mapf-learned:shield=false", "mapf-pibt", "mapf-prioritized")


def _method(spec: str, checkpoint: str | None) -> tuple[str, dict]:
    """(method name, solve() options) of ``name[:key=value,...]``, the options read as ``ncosolve solve --option``."""
    name, _, opts = spec.partition(":")
    options = parse_options(list(filter(None, opts.split(","))))
    if checkpoint and name == "mapf-learned":
        options["checkpoint"] = checkpoint
    return name, options


def one_shot(time_limit: float, checkpoint: str | None = None) -> list[dict]:
    rows = []
    for label, load, specs in ONE_SHOT:
        inst = load()
        for spec in specs:
            name, options = _method(spec, checkpoint)
            res = ncosolve.solve(inst, name, time_limit=time_limit, **options)
            row = {"instance": label, "method": spec, "success": res.feasible, "time_s": round(res.runtime_s, 3)}
            if res.feasible:
                m = mapf_metrics(inst, res.solution)
                row.update(soc=m["soc"], makespan=m["makespan"])
            rows.append(row)
    return rows


def lifelong(time_limit: float, seeds: int, names=LIFELONG_METHODS, checkpoint: str | None = None) -> list[dict]:
    rows = []
    for label, load in LIFELONG:
        insts = [load(s) for s in range(seeds)]
        for spec in names:
            name, options = _method(spec, checkpoint)
            res = [ncosolve.solve(inst, name, time_limit=time_limit, **options) for inst in insts]
            assert all(r.feasible for r in res), spec  # lifelong paths always cover the horizon
            tp = [r.cost for r in res]
            rows.append({"instance": label, "method": spec, "seeds": seeds, "throughput": round(float(np.mean(tp)), 3),
                         "min": round(min(tp), 3), "max": round(max(tp), 3),
                         "time_s": round(float(np.mean([r.runtime_s for r in res])), 3),
                         "pibt_fallback_steps": sum(r.info.get("pibt_fallback_steps", 0) for r in res),
                         "per_seed": [round(t, 4) for t in tp]})
    return rows


def _table(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    width = {k: max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(width[k]) for k in keys)]
    lines += ["  ".join(str(r.get(k, "")).ljust(width[k]) for k in keys) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per (instance, method)")
    parser.add_argument("--seeds", type=int, default=10, help="lifelong instances per map")
    parser.add_argument("--only", choices=("one_shot", "lifelong"),
                        help="run one section (the other one already in --json is kept)")
    parser.add_argument("--methods", default=";".join(LIFELONG_METHODS),
                        help="lifelong methods, ';'-separated, each name[:option=value,...]")
    parser.add_argument("--checkpoint", help="Follower checkpoint for mapf-learned (default: the shipped one)")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "mapf.json"),
                        help="where to write the results")
    args = parser.parse_args()
    warm = generate_mapf("random", 4, seed=0, size=8)
    for name in ("mapf-pibt", "mapf-lacam", "mapf-learned"):
        ncosolve.solve(warm, name)  # compile numba kernels outside the timings
    results = {"date": time.strftime("%Y-%m-%d"), "time_limit": args.time_limit, "seeds": args.seeds,
               "load_avg_1min": round(os.getloadavg()[0], 2)}
    if args.only in (None, "one_shot"):
        results["one_shot"] = one_shot(args.time_limit, args.checkpoint)
    if args.only in (None, "lifelong"):
        results["lifelong"] = lifelong(args.time_limit, args.seeds, args.methods.split(";"), args.checkpoint)
        results["checkpoint"] = args.checkpoint or "shipped"
    for key in ("one_shot", "lifelong"):
        if key in results:
            print(f"\n== {key}\n{_table([{k: v for k, v in r.items() if k != 'per_seed'} for r in results[key]])}")
    if args.only and Path(args.json).exists():  # keep the section that was not rerun, with its own date
        earlier = json.loads(Path(args.json).read_text())
        other = "lifelong" if args.only == "one_shot" else "one_shot"
        if other in earlier:
            results[other] = earlier[other]
            results[f"{other}_from"] = earlier.get(f"{other}_from", earlier.get("date"))
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\nwritten to {args.json}")

if __name__ == "__main__":
    main()
