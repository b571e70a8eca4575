"""Env speed: steps per second of ``ncosolve/MAPF-v0`` against POGEMA 1.4 on the same 64 x 64 map.

POGEMA pins old gymnasium/numpy/pydantic, so it runs in its own virtual environment, driven through a
subprocess; set it up once with

    python -m venv /work/venvs/pogema && /work/venvs/pogema/bin/pip install "pogema==1.4.*"

Protocol: one random 64 x 64 grid (obstacle density 0.2, seed 0) given to both envs, the same number of agents; lifelong mode
(``on_target="restart"``), observation radius 5; uniformly random actions drawn up front; ``--steps`` steps
timed after ``reset`` (observations for every agent are built at each step in both). Best of ``--repeats``.
Run: ``python benchmarks/mapf_env_speed.py [--python /work/venvs/pogema/bin/python]``; writes
``benchmarks/results/mapf_env_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ncosolve.envs.mapf import MAPFEnv
from ncosolve.problems.mapf_generators import random_grid, random_scenario
from ncosolve.problems.mapf import MAPFInstance

POGEMA_SCRIPT = """
import json, sys, time
import numpy as np
from pogema import GridConfig, pogema_v0
import pogema
args = json.loads(sys.stdin.read())
text = "\\n".join("".join("#" if c else "." for c in row) for row in args["grid"])
best = 0.0
for rep in range(args["repeats"]):
    cfg = GridConfig(map=text, num_agents=args["agents"],
                     obs_radius=5, on_target="restart", max_episode_steps=args["steps"] + 1, seed=rep)
    env = pogema_v0(grid_config=cfg)
    env.reset()
    acts = np.random.default_rng(rep).integers(5, size=(args["steps"], args["agents"])).tolist()
    start = time.perf_counter()
    for a in acts:
        env.step(a)
    best = max(best, args["steps"] / (time.perf_counter() - start))
print(json.dumps({"steps_per_s": best, "version": pogema.__version__}))
"""


def problem(agents: int, size: int, density: float, seed: int = 0) -> MAPFInstance:
    """The shared test map and a start/goal scenario on its largest component."""
    grid = random_grid(seed, size=size, density=density)
    starts, goals = random_scenario(grid, agents, seed)
    return MAPFInstance(grid, starts, goals)


def ncosolve_speed(inst: MAPFInstance, steps: int, repeats: int) -> float:
    """Best steps/s of MAPF-v0 over ``repeats`` runs of ``steps`` random joint actions."""
    best = 0.0
    for rep in range(repeats):
        env = MAPFEnv(agents=inst.num_agents, on_target="restart", max_episode_steps=steps + 1)
        env.reset(seed=rep, options={"instance": inst})
        acts = np.random.default_rng(rep).integers(5, size=(steps, inst.num_agents))
        start = time.perf_counter()
        for a in acts:
            env.step(a)
        best = max(best, steps / (time.perf_counter() - start))
    return best


def pogema_speed(python: str, inst: MAPFInstance, steps: int, repeats: int) -> dict:
    """Best steps/s of POGEMA on the same map and agent count, run by ``python`` (POGEMA's venv); POGEMA places
    the agents and draws their goals itself (its restart mode takes no fixed goal lists)."""
    payload = json.dumps({"grid": inst.grid.astype(int).tolist(), "agents": inst.num_agents, "steps": steps,
                          "repeats": repeats})
    out = subprocess.run([python, "-c", POGEMA_SCRIPT], input=payload, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"POGEMA run with {python} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="/work/venvs/pogema/bin/python", help="python of POGEMA's venv")
    parser.add_argument("--steps", type=int, default=300, help="env steps timed per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (the best is kept)")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "mapf_env_speed.json"),
                        help="JSON output")
    args = parser.parse_args()
    rows = []
    for agents in (64, 256):
        inst = problem(agents, 64, 0.2)
        ours = ncosolve_speed(inst, args.steps, args.repeats)
        peer = pogema_speed(args.python, inst, args.steps, args.repeats)
        rows.append({"map": "random 64x64 d0.2", "agents": agents, "ncosolve_steps_per_s": round(ours, 1),
                     f"pogema_{peer['version']}_steps_per_s": round(peer["steps_per_s"], 1),
                     "ratio": round(ours / peer["steps_per_s"], 2)})
    for row in rows:
        print("  ".join(f"{k}={v}" for k, v in row.items()))
    result = {"date": time.strftime("%Y-%m-%d"), "steps": args.steps, "repeats": args.repeats,
              "python": sys.version.split()[0], "load_avg_1min": round(os.getloadavg()[0], 2), "rows": rows}
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(f"written to {args.json}")


if __name__ == "__main__":
    main()
