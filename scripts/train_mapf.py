"""Train the Follower-style MAPF policy with PPO in lifelong ("restart") episodes.

    python scripts/train_mapf.py --minutes 35 --threads 1
    python scripts/train_mapf.py --resume runs/mapf__ppo__0__<time>      # continue where it stopped
    python scripts/train_mapf.py --init ncosolve/data/checkpoints/mapf/follower.pt   # fine-tune the shipped one
    python scripts/train_mapf.py --init ncosolve/data/checkpoints/mapf/follower.pt --shield --heat-cost 1

Every update: ``rollout`` joint steps of ``envs`` lifelong episodes (each a random ``size`` x ``size`` map,
obstacle density U[0.1, 0.3], ``agents_min``..``agents_max`` agents), then PPO epochs. Every block of
``horizon / rollout`` updates (one episode): fresh episodes, validation throughput on fixed seeded maps,
``policy.pt`` (latest), ``best.pt`` (best validation; package checkpoint format) and ``train_state.pt``
(weights, Adam, RNG states, counters) for ``--resume``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ncosolve.problems.mapf_generators import generate_mapf_lifelong
from ncosolve.policies.mapf_follower import FollowerConfig, FollowerNet, load_follower, save_follower
from ncosolve.policies.mapf_ppo import PPOConfig, VecFollower, collect, make_instances, ppo_update, throughput
from ncosolve.script_args import add_fields


NETWORK_FIELDS = ("obs_radius", "conv_channels", "hidden")
"""FollowerConfig fields that shape the weights: ``--init`` takes them from its checkpoint"""


@dataclass
class Args:
    kind: str = "random"
    """map kind of the training episodes: random, maze or warehouse"""
    size: int = 20
    """map side (random, maze)"""
    agents_min: int = 32
    """fewest agents in an episode"""
    agents_max: int = 64
    """most agents in an episode"""
    envs: int = 8
    """episodes stepped together"""
    horizon: int = 256
    """steps per episode"""
    rollout: int = 32
    """joint steps per PPO update"""
    minutes: float = 35.0
    """training wall-clock budget (validation excluded)"""
    max_samples: int = 0
    """stop after this many agent-steps (0: no limit)"""
    seed: int = 0
    """seed of random, numpy, torch and the episode stream"""
    threads: int = 1
    """torch intra-op threads"""
    val_agents: int = 32
    """agents of the validation maps (random 20 x 20, density 0.2, seeds 1000, 1001)"""
    out: str = "runs"
    """parent directory of the run directory"""
    resume: str = ""
    """run directory to continue"""
    init: str = ""
    """Follower checkpoint whose weights (and network shape) this run starts from; planner flags apply"""


def parse() -> tuple[Args, FollowerConfig, PPOConfig]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for cls in (Args, FollowerConfig, PPOConfig):
        add_fields(parser, cls, skip=("training",))
    ns = vars(parser.parse_args())
    pick = lambda cls: cls(**{f.name: ns[f.name] for f in dataclasses.fields(cls) if f.name in ns})  # noqa: E731
    return pick(Args), pick(FollowerConfig), pick(PPOConfig)


def hardware(threads: int) -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores, {threads} torch thread(s), device cpu, "
            f"torch {torch.__version__}")


def main() -> None:
    args, fcfg, pcfg = parse()
    torch.set_num_threads(args.threads)
    if args.resume:
        run = Path(args.resume)
        state = torch.load(run / "train_state.pt", weights_only=True)
        saved = json.loads(state["args"])
        args = Args(**{**saved["args"], "resume": args.resume, "minutes": args.minutes,
                       "max_samples": args.max_samples})
        fcfg, pcfg = FollowerConfig(**saved["follower"]), PPOConfig(**saved["ppo"])
    else:
        run = Path(args.out) / f"mapf-{args.kind}{args.size}__ppo__{args.seed}__{int(time.time())}"
        run.mkdir(parents=True, exist_ok=True)
        state = None
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    init_training: dict = {}
    if args.init:  # on --resume only the record is needed: the weights come from train_state.pt
        start, meta = load_follower(args.init)
        init_training = {"init": Path(args.init).name, "init_training": meta["config"].get("training", {})}
        if state is None:  # the network's shape as trained; planner and shield settings from this run's flags
            fcfg = dataclasses.replace(fcfg, training={}, **{k: getattr(start.cfg, k) for k in NETWORK_FIELDS})
    net = FollowerNet(fcfg)
    if args.init and state is None:
        net.load_state_dict(start.state_dict())
    optimizer = torch.optim.Adam(net.parameters(), lr=pcfg.lr, eps=1e-5)
    counters = {"update": 0, "samples": 0, "train_s": 0.0, "best": -1.0}
    if state is not None:
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        counters = json.loads(state["counters"])
    val = [generate_mapf_lifelong("random", args.val_agents, args.horizon, seed=s, size=20, density=0.2)
           for s in (1000, 1001)]
    block = max(1, args.horizon // args.rollout)
    budget_s = args.minutes * 60
    log = open(run / "log.jsonl", "a")
    bar = tqdm(total=int(budget_s), initial=int(counters["train_s"]), unit="s", desc=run.name)
    while counters["train_s"] < budget_s and not (args.max_samples and counters["samples"] >= args.max_samples):
        # one episode per block: the episode stream is a function of (seed, block index) so --resume repeats it
        episode = counters["update"] // block
        start = time.perf_counter()
        vec = VecFollower(make_instances(args.seed * 100003 + episode, args.envs, args.kind, args.size,
                                         (args.agents_min, args.agents_max), args.horizon), fcfg, pcfg)
        goals = 0
        for _ in range(block):
            batch = collect(net, vec, args.rollout, gen)
            stats = ppo_update(net, optimizer, batch, pcfg, gen)
            goals += batch["goals"]
            counters["update"] += 1
            counters["samples"] += batch["rewards"].numel()
        elapsed = time.perf_counter() - start
        counters["train_s"] += elapsed
        bar.update(int(elapsed))
        tp = float(np.mean([throughput(net, inst, seed=0) for inst in val]))
        entry = {"update": counters["update"], "samples": counters["samples"],
                 "train_min": round(counters["train_s"] / 60, 2), "train_throughput_per_env":
                 round(goals / (block * args.rollout * args.envs), 3), "val_throughput": round(tp, 3),
                 **{k: round(v, 4) for k, v in stats.items()}}
        log.write(json.dumps(entry) + "\n")
        log.flush()
        bar.set_postfix(val=entry["val_throughput"], samples=counters["samples"])
        algorithm = "PPO (independent, shared parameters)" + (", PIBT collision shield in the loop" * fcfg.shield)
        fcfg.training = {"algorithm": algorithm, "samples": counters["samples"],
                         "updates": counters["update"], "wall_minutes": round(counters["train_s"] / 60, 1),
                         "hardware": hardware(args.threads), "maps": f"{args.kind} {args.size}x{args.size}, "
                         f"density U[0.1, 0.3], {args.agents_min}-{args.agents_max} agents, lifelong",
                         "val_throughput_random20_a32": entry["val_throughput"], "seed": args.seed,
                         **init_training}
        net.cfg = fcfg
        save_follower(net, run / "policy.pt")
        if tp > counters["best"]:
            counters["best"] = tp
            save_follower(net, run / "best.pt")
        tmp = run / "train_state.pt.tmp"
        torch.save({"net": net.state_dict(), "optimizer": optimizer.state_dict(), "generator": gen.get_state(),
                    "counters": json.dumps(counters),
                    "args": json.dumps({"args": dataclasses.asdict(args), "follower": fcfg.net_dict(),
                                        "ppo": dataclasses.asdict(pcfg)})}, tmp)
        tmp.replace(run / "train_state.pt")
    bar.close()
    print(f"run directory: {run}  best validation throughput {counters['best']:.3f}")


if __name__ == "__main__":
    main()
