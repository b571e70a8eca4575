"""Train rl4co's own POMO (its TSPEnv / CVRPEnv, AttentionModelPolicy, RL4COTrainer) as the peer of ``attention``.

    python scripts/train_rl4co_pomo.py --problem tsp --size 20 --epochs 23 --threads 1
    python scripts/train_rl4co_pomo.py --problem cvrp --size 20 --epochs 22 --threads 1

The budget is counted as ours is (``scripts/train_routing.py``): ``epochs x steps x batch_size`` training
instances, each decoded from every start node; the defaults match the shipped ``tsp20.pt`` (23 x 100 x
64 = 147,200 samples) with the same Adam learning rate and an encoder of the same width and depth. The
result is written in the format ``ncosolve.policies.rl4co_pomo`` loads (state_dict + JSON config,
``weights_only=True``), by default to ``runs/rl4co_pomo_<problem><size>.pt``.
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ncosolve.script_args import parse_dataclass


@dataclass
class Args:
    problem: str = "tsp"
    """tsp or cvrp (rl4co's TSPEnv / CVRPEnv, uniform Kool et al. distribution)"""
    size: int = 20
    """nodes (TSP) or customers (CVRP)"""
    epochs: int = 23
    """epochs of ``steps`` updates"""
    steps: int = 100
    """updates per epoch"""
    batch_size: int = 64
    """instances per update"""
    lr: float = 3e-4
    """Adam learning rate (the shipped attention checkpoints' rate)"""
    embed_dim: int = 64
    """embedding width (ours: 64)"""
    heads: int = 4
    """attention heads (ours: 4)"""
    layers: int = 3
    """encoder layers (ours: 3)"""
    ff_dim: int = 256
    """feed-forward width (ours: 256)"""
    seed: int = 0
    """seeds python, numpy, torch (rl4co draws its training instances from torch)"""
    threads: int = 1
    """torch.set_num_threads (keep 1 on shared machines)"""
    accelerator: str = "cpu"
    """Lightning accelerator"""
    devices: int = 1
    """Lightning devices"""
    max_minutes: float = 0.0
    """stop training after this many minutes (0: no limit); the checkpoint records the samples seen"""
    out: str = ""
    """checkpoint path (rewritten every epoch); default runs/rl4co_pomo_<problem><size>.pt"""


def parse_args(argv=None) -> Args:
    """Args from the command line, one flag per dataclass field (``--help`` shows the field docs)."""
    return parse_dataclass(Args, __doc__.splitlines()[0], argv)


def main(argv=None) -> Path:
    args = parse_args(argv)
    from ncosolve.policies.rl4co_pomo import import_rl4co, make_env, policy_kwargs, save_pomo

    import_rl4co()  # before any rl4co import: it keeps --threads
    import rl4co
    from lightning.pytorch.callbacks import Callback
    from rl4co.models import POMO
    from rl4co.utils.trainer import RL4COTrainer

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    cfg = {"problem": args.problem, "size": args.size, "embed_dim": args.embed_dim, "num_heads": args.heads,
           "num_encoder_layers": args.layers, "feedforward_hidden": args.ff_dim}
    env = make_env(args.problem, args.size)
    model = POMO(env, policy_kwargs=policy_kwargs(cfg), batch_size=args.batch_size,
                 train_data_size=args.steps * args.batch_size, val_data_size=128, val_batch_size=128,
                 optimizer_kwargs={"lr": args.lr})
    out = Path(args.out or Path("runs") / f"rl4co_pomo_{args.problem}{args.size}.pt")
    hardware = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} torch "
                f"thread(s), {args.accelerator} x{args.devices}")
    started = time.time()

    class SaveEveryEpoch(Callback):
        """Write the policy and the budget spent so far after every epoch (a stopped run keeps its last)."""

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            epochs = trainer.current_epoch + 1
            training = {"samples": epochs * args.steps * args.batch_size, "epochs": epochs,
                        "batch_size": args.batch_size, "lr": args.lr, "wall_s": round(time.time() - started, 1),
                        "distribution": "uniform", "hardware": hardware, "torch": torch.__version__,
                        "rl4co": rl4co.__version__}
            save_pomo(pl_module.policy, cfg, out, training)
            save_pomo(pl_module.policy, cfg, out.with_name(f"{out.stem}_epoch{epochs}.pt"), training)
            print(json.dumps(training), flush=True)

    limit = {"max_time": {"minutes": args.max_minutes}} if args.max_minutes > 0 else {}
    trainer = RL4COTrainer(max_epochs=args.epochs, accelerator=args.accelerator, devices=args.devices,
                           precision="32-true", logger=False, enable_checkpointing=False,
                           callbacks=[SaveEveryEpoch()], enable_model_summary=False, **limit)
    trainer.fit(model)
    print(f"wrote {out} ({(time.time() - started) / 60:.1f} min)")
    return out


if __name__ == "__main__":
    main()
