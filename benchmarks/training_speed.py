"""Training speed: seconds per POMO update of ncosolve's attention policy against rl4co's POMO, same problem.

Protocol: one REINFORCE update with the POMO shared baseline (every start node, one sampled trajectory each,
Adam) on ``--batch-size`` fresh uniform instances of ``--size`` nodes, for both: ours through
``ncosolve.policies.reinforce.reinforce_step`` (pair-aware encoder), rl4co's through its ``POMO`` model
(``AttentionModelPolicy``, instance norm, the loss of ``POMO.calculate_loss``), both encoders 64 wide,
4 heads, 3 layers, feed-forward 256. One warm-up update each, then ``--steps`` updates alternating between
the two so that both see the same machine load; the median is reported with the ratio.
Run: ``python benchmarks/training_speed.py [--size 100 --batch-size 32 --steps 6 --threads 1]``; writes
``benchmarks/results/training_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from ncosolve.policies.model import AttentionPolicy, PolicyConfig
from ncosolve.policies.reinforce import make_instances, reinforce_step
from ncosolve.policies.rl4co_pomo import import_rl4co, make_env, make_policy

WIDTH = {"embed_dim": 64, "num_heads": 4, "num_encoder_layers": 3, "feedforward_hidden": 256}


def ours(problem: str, size: int, batch_size: int, lr: float):
    """A closure running one ncosolve update per call on new instances (seeded by the call count)."""
    policy = AttentionPolicy(PolicyConfig(problem=problem, size=size, embed_dim=WIDTH["embed_dim"],
                                          heads=WIDTH["num_heads"], layers=WIDTH["num_encoder_layers"],
                                          ff_dim=WIDTH["feedforward_hidden"]))
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    calls = iter(range(10**9))

    def step() -> None:
        reinforce_step(policy, optimizer, make_instances(problem, batch_size, size, seed=next(calls)))

    return step, sum(p.numel() for p in policy.parameters())


def rl4co(problem: str, size: int, batch_size: int, lr: float):
    """A closure running one update of rl4co's POMO per call (its own generator draws the instances)."""
    import_rl4co()  # before any rl4co import: it keeps --threads
    from rl4co.models import POMO
    from rl4co.utils.ops import unbatchify

    env = make_env(problem, size)
    policy = make_policy({"problem": problem, **WIDTH})
    model = POMO(env, policy=policy, batch_size=batch_size)
    model.train()
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)

    def step() -> None:
        batch = env.generator(batch_size=[batch_size])
        td = env.reset(batch)
        starts = env.get_num_starts(td)
        out = policy(td, env, phase="train", num_starts=starts)
        reward = unbatchify(out["reward"], (0, starts))  # (batch, starts), as POMO.shared_step
        log_likelihood = unbatchify(out["log_likelihood"], (0, starts))
        model.calculate_loss(td, batch, out, reward, log_likelihood)
        optimizer.zero_grad()
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()

    return step, sum(p.numel() for p in policy.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="tsp", choices=["tsp", "cvrp"], help="routing problem of the batches")
    parser.add_argument("--size", type=int, default=100, help="nodes (TSP) or customers (CVRP)")
    parser.add_argument("--batch-size", type=int, default=32, help="instances per update")
    parser.add_argument("--steps", type=int, default=6, help="timed updates per method (after one warm-up)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
    parser.add_argument("--json", default="benchmarks/results/training_speed.json", help="JSON output")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    methods = {"ncosolve attention": ours(args.problem, args.size, args.batch_size, args.lr),
               "rl4co POMO": rl4co(args.problem, args.size, args.batch_size, args.lr)}
    times: dict[str, list[float]] = {name: [] for name in methods}
    for k in range(args.steps + 1):
        for name, (step, _) in methods.items():
            start = time.perf_counter()
            step()
            if k:  # the first update of each warms up
                times[name].append(time.perf_counter() - start)
    rows = []
    base = statistics.median(times["rl4co POMO"])
    print(f"{args.problem.upper()}{args.size}, batch {args.batch_size} x every start, {args.threads} thread(s)")
    print(f"{'method':<20} {'parameters':>10} {'s/update':>9} {'samples/s':>9} {'vs rl4co':>8}")
    for name, (_, params) in methods.items():
        med = statistics.median(times[name])
        rows.append({"method": name, "parameters": params, "s_per_update": round(med, 3),
                     "samples_per_s": round(args.batch_size / med, 2), "time_ratio_to_rl4co": round(med / base, 3),
                     "all_s": [round(t, 3) for t in times[name]]})
        print(f"{name:<20} {params:>10,} {med:>9.2f} {args.batch_size / med:>9.1f} {med / base:>8.2f}")
    out = {"args": vars(args), "machine": f"{platform.machine()}, torch {torch.__version__}", "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
