"""The attention policy's REINFORCE training as a LightningModule, so Lightning's strategies (DDP over processes,
GPUs, nodes) run it; ``scripts/train_routing.py --devices N --strategy ddp`` uses it.

Each step every rank draws its own seeded instances (and sampling seed) and runs ``reinforce_step`` (the single definition of the
update); under DDP the gradients are averaged across ranks before the optimizer step, so the ranks keep equal
weights. Global rank 0 validates and writes checkpoints after every epoch.
"""

from __future__ import annotations

from typing import Callable

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader

from ncosolve.policies.model import AttentionPolicy
from ncosolve.policies.reinforce import make_instances, reinforce_step


class ReinforceModule(pl.LightningModule):
    """``policy`` trained by ``reinforce_step`` on ``steps`` fresh batches of ``batch_size`` instances per epoch.

    ``epoch_callback(module, epoch, samples)`` runs on global rank 0 after every epoch (validation, checkpoints).
    """

    def __init__(self, policy: AttentionPolicy, problem: str, size: int, distribution: str = "uniform",
                 steps: int = 100, batch_size: int = 64, lr: float = 1e-4, seed: int = 0,
                 epoch_callback: Callable[["ReinforceModule", int, int], None] | None = None):
        super().__init__()
        self.automatic_optimization = False  # reinforce_step does backward, clipping and the step itself
        self.policy = policy
        self.problem, self.size, self.distribution = problem, size, distribution
        self.steps, self.batch_size, self.lr, self.seed = steps, batch_size, lr, seed
        self.epoch_callback = epoch_callback

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.policy.parameters(), lr=self.lr)

    def train_dataloader(self) -> DataLoader:
        """Step indices only: every rank builds its own instances from (seed, epoch, step, rank)."""
        return DataLoader(list(range(self.steps)), batch_size=None)

    def training_step(self, step, batch_idx: int) -> None:
        key = [self.seed, self.current_epoch, int(step)] + ([self.global_rank] if self.trainer.world_size > 1 else [])
        data_seed = int(np.random.SeedSequence(key).generate_state(1)[0])
        batch = make_instances(self.problem, self.batch_size, self.size, data_seed, self.distribution)
        torch.manual_seed(data_seed)  # the sampled trajectories too: Lightning's loaders draw from torch's RNG
        # What manual_backward does before backward: under DDP, arm the gradient all-reduce hooks.
        self.trainer.strategy.pre_backward(torch.zeros(()))
        stats = reinforce_step(self.policy, self.optimizers(), batch)
        self.log_dict({"length": stats["length"], "best": stats["best"]}, prog_bar=True, batch_size=self.batch_size)

    def on_train_epoch_end(self) -> None:
        samples = (self.current_epoch + 1) * self.steps * self.batch_size * self.trainer.world_size
        if self.trainer.is_global_zero and self.epoch_callback is not None:
            self.epoch_callback(self, self.current_epoch + 1, samples)
        self.trainer.strategy.barrier("epoch_end")


def fit(module: ReinforceModule, epochs: int, devices: int = 1, strategy: str = "auto",
        accelerator: str = "cpu", num_nodes: int = 1) -> pl.Trainer:
    """Train ``module`` for ``epochs`` with Lightning (``strategy="ddp"``: one process per device, gloo on CPU)."""
    trainer = pl.Trainer(max_epochs=epochs, devices=devices, strategy=strategy, accelerator=accelerator,
                         num_nodes=num_nodes, logger=False, enable_checkpointing=False, enable_model_summary=False,
                         use_distributed_sampler=False)
    trainer.fit(module)
    return trainer
