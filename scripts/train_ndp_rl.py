"""Train the RL link-selection policy used by ``ndp-rl`` with REINFORCE in ``ncosolve/NetworkDesign-v0``.

    python scripts/train_ndp_rl.py --out ncosolve/data/checkpoints/ndp/policy_synthetic.pt
    python scripts/train_ndp_rl.py --resume runs/ndp_rl__synthetic__0__<time>     # continue

Instances: a pool of ``instances`` seeded random congested synthetic cities (``random_design_instance``, at
most ``max_candidates`` candidates), the last ``val_instances`` held out. Each update takes one training
instance, samples ``rollouts`` episodes in its env, and uses the saving ratio (do-nothing TTT - final TTT) /
do-nothing TTT as the return with the mean over the episodes as baseline (the POMO-style shared baseline).
Every ``val_every`` updates: greedy episodes on the held-out instances, their mean saving ratio against
``ndp-greedy``'s, and the best policy so far written to ``out``. The UE is solved at relative gap
``ue_tol`` during training (the shipped instances' 1e-5 at inference).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

import ncosolve
from ncosolve.envs.network_design import NetworkDesignEnv
from ncosolve.problems.network_generators import random_design_instance
from ncosolve.policies.ndp_gnn import GNNConfig, save_model
from ncosolve.policies.ndp_rl import LINK_FEATURES, DesignPolicy, rollout
from ncosolve.problems import evaluate
from ncosolve.script_args import parse_dataclass


@dataclass
class Args:
    instances: int = 40
    """size of the pool of random synthetic instances"""
    val_instances: int = 8
    """instances of the pool held out for validation"""
    max_candidates: int = 24
    """skip pool seeds whose instance has more candidates (keeps episodes short)"""
    updates: int = 400
    """REINFORCE updates"""
    max_train_minutes: float = 12.0
    """stop after this much wall time (the best validated policy is kept)"""
    rollouts: int = 8
    """sampled episodes per update"""
    val_every: int = 40
    """updates between validations"""
    hidden: int = 48
    """embedding width"""
    layers: int = 4
    """message-passing rounds"""
    lr: float = 3e-4
    """Adam learning rate"""
    ue_tol: float = 1e-4
    """UE relative gap of the training envs"""
    seed: int = 0
    """seeds the pool, the sampling and torch"""
    threads: int = 1
    """torch.set_num_threads (keep 1 on shared machines)"""
    run_dir: str = ""
    """output directory; default runs/ndp_rl__synthetic__{seed}__{time}"""
    out: str = ""
    """the final checkpoint; default {run_dir}/policy.pt"""
    resume: str = ""
    """a run directory to continue (its args.json wins over the command line)"""


def parse_args(argv=None) -> Args:
    """Args from the command line, one flag per dataclass field (``--help`` shows the field docs)."""
    return parse_dataclass(Args, __doc__.splitlines()[0], argv)


def instance_pool(args: Args) -> list:
    """``args.instances`` seeded instances with at most ``max_candidates`` candidates, at gap ``ue_tol``."""
    pool, seed = [], args.seed * 100_003
    while len(pool) < args.instances:
        inst = random_design_instance(seed)
        seed += 1
        if inst.num_candidates <= args.max_candidates:
            pool.append(dataclasses.replace(inst, ue_tol=args.ue_tol))
    return pool


def validate(policy, envs: list, reference: list[float]) -> dict:
    """Mean saving ratio of greedy episodes, and of ``ndp-greedy``, on the held-out instances."""
    saving = []
    with torch.no_grad():
        for env in envs:
            base = evaluate(env.instance, np.zeros(env.instance.num_candidates))
            _, ttt, _ = rollout(policy, env, greedy=True)
            saving.append(1 - ttt / base)
    ref = [1 - r / evaluate(env.instance, np.zeros(env.instance.num_candidates)) for env, r in zip(envs, reference)]
    return {"val_saving": float(np.mean(saving)), "val_greedy_saving": float(np.mean(ref))}


def main(argv=None) -> Path:
    args = parse_args(argv)
    if args.resume:
        run_dir = Path(args.resume)
        args = Args(**json.loads((run_dir / "args.json").read_text()))
    else:
        run_dir = Path(args.run_dir or Path("runs") / f"ndp_rl__synthetic__{args.seed}__{int(time.time())}")
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "args.json").write_text(json.dumps(dataclasses.asdict(args), indent=1))
    out = Path(args.out or run_dir / "policy.pt")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    pool = instance_pool(args)
    envs = [NetworkDesignEnv(inst) for inst in pool]
    train, val = envs[: -args.val_instances], envs[-args.val_instances:]
    reference = [ncosolve.solve(env.instance, method="ndp-greedy", time_limit=60).cost for env in val]

    cfg = GNNConfig(kind="policy", edge_features=LINK_FEATURES, hidden=args.hidden, layers=args.layers,
                    trained_on="synthetic")
    policy = DesignPolicy(cfg)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    state_path = run_dir / "train_state.pt"
    update, wall, best = 0, 0.0, {"val_saving": -np.inf}
    if state_path.exists():
        state = torch.load(state_path, weights_only=True)
        policy.load_state_dict(state["policy"])
        optimizer.load_state_dict(state["optimizer"])
        update, wall, best = state["update"], state["wall_s"], json.loads(state["best"])
    log = open(run_dir / "log.jsonl", "a")
    bar = tqdm(total=args.updates, initial=update, desc="REINFORCE", dynamic_ncols=True)
    while update < args.updates and wall < 60 * args.max_train_minutes:
        started = time.time()
        env = train[int(np.random.default_rng([args.seed, update]).integers(len(train)))]
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence([args.seed, update]).generate_state(1)[0]))
        base = evaluate(env.instance, np.zeros(env.instance.num_candidates))
        returns, logps = [], []
        for _ in range(args.rollouts):
            _, ttt, logp = rollout(policy, env, generator)
            returns.append(1 - ttt / base)
            logps.append(logp)
        ret = torch.tensor(returns, dtype=torch.float32)
        advantage = (ret - ret.mean()) / (ret.std() + 1e-3)
        loss = -(advantage * torch.stack(logps)).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        update += 1
        wall += time.time() - started
        bar.update(1)
        bar.set_postfix(saving=f"{ret.mean():.4f}", best=f"{ret.max():.4f}")
        if update % args.val_every == 0 or update == args.updates:
            record = {"update": update, "wall_s": round(wall, 1), **validate(policy, val, reference)}
            tqdm.write(json.dumps(record))
            log.write(json.dumps(record) + "\n")
            log.flush()
            if record["val_saving"] > best["val_saving"]:
                best = record
                save_model(policy, cfg, out, {
                    "instances": len(train), "updates": update, "rollouts": args.rollouts, "train_s": round(wall, 1),
                    "ue_tol": args.ue_tol, **record, "torch": torch.__version__,
                    "hardware": f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} torch thread(s)"})
            torch.save({"policy": policy.state_dict(), "optimizer": optimizer.state_dict(), "update": update,
                        "wall_s": wall, "best": json.dumps(best)}, state_path.with_suffix(".tmp"))
            state_path.with_suffix(".tmp").replace(state_path)
    bar.close()
    log.close()
    print(json.dumps({"checkpoint": str(out), **best}))
    return out


if __name__ == "__main__":
    main()
