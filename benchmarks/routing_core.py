"""Decode and training-step time through the routing core against an older checkout, alternating in one run.

    git worktree add /tmp/ncosolve-old 436f1b5        # the commit before the routing core
    python benchmarks/routing_core.py --old-tree /tmp/ncosolve-old --rounds 5 --out benchmarks/results/routing_core.json

Each round runs, in fresh subprocesses on one torch thread, the same timed work on the old checkout and on
this one, in alternating order: greedy multi-start decoding (x1, batched) of the first TSP100 and CVRP100
test instances with the shipped checkpoints, and REINFORCE/POMO steps on seeded TSP50 and CVRP50 batches.
Prints median times and the ratio new / old per task (the issue's bound: <= 1.05).
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
out = {}
for problem, size, count in [("tsp", 100, 32), ("cvrp", 100, 16)]:
    policy, _ = load_policy(ckpt / f"{problem}{size}.pt", problem)
    insts = ncosolve.generate(problem, count, size, seed=1234)
    decode(policy, insts[:2], Decoding(augment=1))  # first-call allocations
    tick = time.perf_counter()
    with torch.inference_mode():
        _, lengths = decode(policy, insts, Decoding(augment=1))
    out[f"decode {problem}{size} ms/instance"] = 1000 * (time.perf_counter() - tick) / count
    out[f"decode {problem}{size} mean length"] = float(lengths.mean())
for problem, size in [("tsp", 50), ("cvrp", 50)]:
    policy, _ = load_policy(ckpt / f"{problem}{size}.pt", problem)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-4)
    torch.manual_seed(0)
    reinforce_step(policy, opt, make_instances(problem, 16, size, 0))
    tick = time.perf_counter()
    for k in range(3):
        reinforce_step(policy, opt, make_instances(problem, 32, size, k + 1))
    out[f"train step {problem}{size} s"] = (time.perf_counter() - tick) / 3
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
    table = {}
    for key in rounds["new"][0]:
        old = statistics.median(x[key] for x in rounds["old"])
        new = statistics.median(x[key] for x in rounds["new"])
        table[key] = {"old": old, "new": new, "ratio": new / old}
    print(f"\n{'task':34s} {'old':>10s} {'new':>10s} {'new/old':>8s}")
    for key, row in table.items():
        print(f"{key:34s} {row['old']:10.4f} {row['new']:10.4f} {row['ratio']:8.3f}")
    if args.out:
        args.out.write_text(json.dumps({"old_tree": str(args.old_tree), "rounds": rounds, "median": table}, indent=1))


if __name__ == "__main__":
    main()
