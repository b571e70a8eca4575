"""Decode and training-step time through the routing core against an older checkout, alternating in one run.

    git worktree add /tmp/ncosolve-old 436f1b5        # the commit before the routing core
    python benchmarks/routing_core.py --old-tree /tmp/ncosolve-old --rounds 5 --out benchmarks/results/routing_core.json

Each round runs, in fresh subprocesses on one torch thread, the same timed work on the old checkout and on
this one, in alternating order: greedy multi-start decoding (x1, batched) of the first TSP100 and CVRP100
test instances with the shipped checkpoints, and REINFORCE/POMO steps on seeded TSP50 and CVRP50 batches.
Each worker times every task three times (three decodes, three training steps on different batches).
Prints, per task, the ratio new / old of the medians and of the minima over all rounds' repeats (the issue's
bound: <= 1.05). On a shared VM the host's noise only ever adds time, so the minimum, the least disturbed
repeat, estimates the code's own cost more stably than the median when rounds scatter by tens of percent.
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

HERE = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
import ncosolve
from ncosolve.policies.checkpoint import load_policy
from ncosolve.policies.decode import Decoding, decode
from ncosolve.policies.reinforce import make_instances, reinforce_step
ckpt = ncosolve.policies.checkpoint.SHIPPED
REPEATS = 3
out = {}
for problem, size, count in [("tsp", 100, 32), ("cvrp", 100, 16)]:
    policy, _ = load_policy(ckpt / f"{problem}{size}.pt", problem)
    insts = ncosolve.generate(problem, count, size, seed=1234)
    decode(policy, insts[:2], Decoding(augment=1))  # first-call allocations
    times = []
    for _ in range(REPEATS):
        tick = time.perf_counter()
        with torch.inference_mode():
            _, lengths = decode(policy, insts, Decoding(augment=1))
        times.append(1000 * (time.perf_counter() - tick) / count)
    out[f"decode {problem}{size} ms/instance"] = times
    out[f"decode {problem}{size} mean length"] = float(lengths.mean())
for problem, size in [("tsp", 50), ("cvrp", 50)]:
    policy, _ = load_policy(ckpt / f"{problem}{size}.pt", problem)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-4)
    torch.manual_seed(0)
    reinforce_step(policy, opt, make_instances(problem, 16, size, 0))
    times = []
    for k in range(REPEATS):
        tick = time.perf_counter()
        reinforce_step(policy, opt, make_instances(problem, 32, size, k + 1))
        times.append(time.perf_counter() - tick)
    out[f"train step {problem}{size} s"] = times
print(json.dumps(out))
"""


def staging(tree: Path, into: Path) -> Path:
    """A directory importing ``tree``'s ncosolve with its mapped subpackages (envs, policies, baselines) linked in."""
    pkg = into / "ncosolve"
    pkg.mkdir(parents=True)
    for item in (tree / "ncosolve").iterdir():
        (pkg / item.name).symlink_to(item)
    for sub in ("envs", "policies", "baselines"):
        if not (pkg / sub).exists():
            (pkg / sub).symlink_to(tree / sub)
    return into


def run(site: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", WORKER], cwd=site, env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-tree", required=True, type=Path, help="a checkout of the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: 3)")
    parser.add_argument("--out", type=Path, help="write the per-round times and ratios as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sites = {"old": staging(args.old_tree.resolve(), Path(tmp) / "old"),
                 "new": staging(HERE, Path(tmp) / "new")}
        rounds = {"old": [], "new": []}
        for r in range(args.rounds):
            for which in (("old", "new") if r % 2 == 0 else ("new", "old")):
                rounds[which].append(run(sites[which]))
                print(f"round {r + 1} {which}: {json.dumps(rounds[which][-1])}", flush=True)
    table = {key: summary([x[key] for x in rounds["old"]], [x[key] for x in rounds["new"]])
             for key in rounds["new"][0]}
    print(f"\n{'task':34s} {'old med':>10s} {'new med':>10s} {'ratio':>7s} {'old min':>10s} {'new min':>10s} "
          f"{'ratio':>7s}")
    for key, row in table.items():
        print(f"{key:34s} {row['old']:10.4f} {row['new']:10.4f} {row['ratio']:7.3f} {row['old_min']:10.4f} "
              f"{row['new_min']:10.4f} {row['min_ratio']:7.3f}")
    if args.out:
        args.out.write_text(json.dumps({"old_tree": str(args.old_tree), "rounds": rounds, "summary": table},
                                       indent=1))


def summary(old: list, new: list) -> dict:
    """Median and minimum of each side over every round's repeats (a value per round for single figures such as
    mean lengths), and the ratios new / old."""
    old = [v for x in old for v in (x if isinstance(x, list) else [x])]
    new = [v for x in new for v in (x if isinstance(x, list) else [x])]
    row = {"old": statistics.median(old), "new": statistics.median(new), "old_min": min(old), "new_min": min(new)}
    row["ratio"], row["min_ratio"] = row["new"] / row["old"], row["new_min"] / row["old_min"]
    return row


if __name__ == "__main__":
    main()
