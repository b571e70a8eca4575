"""MAPF benchmark: success, sum of costs, makespan and time per method on shipped MovingAI maps; lifelong
throughput; env steps per second. Prints a table and a JSON document (``--json PATH`` also writes it).

Protocol: one seed (0), the given time limit per (instance, method); numba kernels are compiled before timing.
Run: ``python benchmarks/mapf.py [--time-limit 10] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import ncosolve
from ncosolve.baselines import mapf_cbs, mapf_cpsat, mapf_lacam, mapf_pibt, mapf_prioritized  # noqa: F401
from ncosolve.benchmarks import data_dir
from ncosolve.envs.mapf import MAPFEnv
from ncosolve.io import movingai  # noqa: F401  (registers the .map / .scen reader)
from ncosolve.mapf_generators import generate_mapf, generate_mapf_lifelong, warehouse_grid
from ncosolve.problems.mapf import mapf_metrics

MOVINGAI = data_dir() / "movingai"
ONE_SHOT = [  # (label, instance loader, methods)
    ("random-8x8 a6", lambda: generate_mapf("random", 6, seed=0, size=8, density=0.15),
     ["mapf-cbs", "mapf-cpsat", "mapf-lacam", "mapf-pibt", "mapf-prioritized"]),
    ("random-32-32-10 a100", lambda: ncosolve.read_instance(MOVINGAI / "random-32-32-10-random-1.scen", agents=100),
     ["mapf-lacam", "mapf-pibt", "mapf-prioritized"]),
    ("random-32-32-10 a400", lambda: ncosolve.read_instance(MOVINGAI / "random-32-32-10-random-1.scen", agents=400),
     ["mapf-lacam", "mapf-pibt"]),
    ("warehouse-10-20-10-2-1 a1000",
     lambda: ncosolve.read_instance(MOVINGAI / "warehouse-10-20-10-2-1.map", agents=1000, seed=0),
     ["mapf-lacam", "mapf-pibt"]),
]
LIFELONG = [  # (label, instance loader); 256 steps as in the POGEMA benchmark
    ("random-20x20 a32", lambda: generate_mapf_lifelong("random", 32, 256, seed=0, size=20, density=0.2)),
    ("random-20x20 a64", lambda: generate_mapf_lifelong("random", 64, 256, seed=0, size=20, density=0.2)),
    ("maze-21x21 a32", lambda: generate_mapf_lifelong("maze", 32, 256, seed=0, size=21)),
    ("warehouse-17x44 a128", lambda: generate_mapf_lifelong("warehouse", 128, 256, seed=0, grid=warehouse_grid())),
]


def one_shot(time_limit: float) -> list[dict]:
    rows = []
    for label, load, names in ONE_SHOT:
        inst = load()
        for name in names:
            res = ncosolve.solve(inst, name, time_limit=time_limit)
            row = {"instance": label, "method": name, "success": res.feasible, "time_s": round(res.runtime_s, 3)}
            if res.feasible:
                m = mapf_metrics(inst, res.solution)
                row.update(soc=m["soc"], makespan=m["makespan"])
            rows.append(row)
    return rows


def lifelong(time_limit: float) -> list[dict]:
    rows = []
    for label, load in LIFELONG:
        inst = load()
        for name in ("mapf-pibt", "mapf-prioritized"):
            res = ncosolve.solve(inst, name, time_limit=time_limit)
            rows.append({"instance": label, "method": name, "throughput": round(res.cost, 3),
                         "time_s": round(res.runtime_s, 3),
                         "pibt_fallback_steps": res.info.get("pibt_fallback_steps", "")})
    return rows


def env_speed(steps: int = 200) -> list[dict]:
    rows = []
    for agents in (64, 256):
        env = MAPFEnv(agents=agents, on_target="restart", max_episode_steps=steps + 1,
                      grid_options={"size": 64, "density": 0.2})
        env.reset(seed=0)
        acts = np.random.default_rng(0).integers(5, size=(steps, agents))
        start = time.perf_counter()
        for a in acts:
            env.step(a)
        rows.append({"env": "ncosolve/MAPF-v0 64x64", "agents": agents,
                     "steps_per_s": round(steps / (time.perf_counter() - start), 1)})
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
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    warm = generate_mapf("random", 4, seed=0, size=8)
    for name in ("mapf-pibt", "mapf-lacam"):
        ncosolve.solve(warm, name)  # compile numba kernels outside the timings
    results = {"date": time.strftime("%Y-%m-%d"), "time_limit": args.time_limit,
               "one_shot": one_shot(args.time_limit), "lifelong": lifelong(args.time_limit), "env_speed": env_speed()}
    for key in ("one_shot", "lifelong", "env_speed"):
        print(f"\n== {key}\n{_table(results[key])}")
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
