"""scripts/train_routing.py --devices 2 --strategy ddp: two CPU processes (gloo) train with averaged gradients."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

pytest.importorskip("lightning", reason="Lightning DDP training needs the lightning package (pip install rl4co)")

from ncosolve.policies.checkpoint import load_policy  # noqa: E402

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_routing.py"

# Runs in each rank (Lightning's DDP launcher re-runs this file): after fit, every rank saves its own weights.
DRIVER = """
import sys
import torch
sys.path.insert(0, {scripts!r})
import train_routing
import ncosolve.policies.lightning_module as lm

fit = lm.fit

def fit_and_dump(module, *args, **kwargs):
    trainer = fit(module, *args, **kwargs)
    torch.save(module.policy.state_dict(), f"rank{{trainer.global_rank}}.pt")
    return trainer

lm.fit = fit_and_dump
train_routing.main({argv!r})
"""


@pytest.mark.slow
def test_two_cpu_processes_end_with_identical_weights(tmp_path):
    run_dir = tmp_path / "run"
    argv = ["--problem", "tsp", "--size", "8", "--epochs", "2", "--steps", "3", "--batch-size", "4", "--val-size", "2",
            "--embed-dim", "16", "--heads", "2", "--layers", "1", "--ff-dim", "32", "--reference-time", "5",
            "--lr", "1e-2", "--run-dir", str(run_dir), "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu"]
    (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER.format(scripts=str(SCRIPT.parent), argv=argv)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "driver.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "GLOBAL_RANK: 1" in proc.stdout + proc.stderr  # a second process really joined

    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys()
    for name in rank0:  # each rank drew different instances: equal weights mean the gradients were averaged
        assert torch.equal(rank0[name], rank1[name]), name

    policy, meta = load_policy(run_dir / "policy.pt", "tsp")
    for name, value in policy.state_dict().items():
        assert torch.equal(value, rank0[name]), name
    assert meta["training"]["samples"] == 2 * 3 * 4 * 2  # epochs x steps x batch x ranks
    assert "strategy ddp" in meta["training"]["hardware"]
    first, _ = load_policy(run_dir / "epoch1.pt", "tsp")
    assert any(not torch.equal(a, b) for a, b in zip(first.state_dict().values(), policy.state_dict().values()))
    assert len((run_dir / "log.jsonl").read_text().splitlines()) == 2


def test_single_process_lightning_equals_the_plain_loop():
    """World size 1: exactly reinforce_step on the (seed, epoch, step) instances, torch seeded from the same key."""
    import numpy as np

    from ncosolve.policies.lightning_module import ReinforceModule, fit
    from ncosolve.policies.model import AttentionPolicy, PolicyConfig
    from ncosolve.policies.reinforce import make_instances, reinforce_step

    cfg = PolicyConfig(problem="tsp", variant="euclidean", size=8, embed_dim=16, heads=2, layers=1, ff_dim=32)
    torch.manual_seed(0)
    plain = AttentionPolicy(cfg)
    start = {k: v.clone() for k, v in plain.state_dict().items()}
    optimizer = torch.optim.Adam(plain.parameters(), lr=1e-2)
    for step in range(3):
        seed = int(np.random.SeedSequence([7, 0, step]).generate_state(1)[0])
        torch.manual_seed(seed)
        reinforce_step(plain, optimizer, make_instances("tsp", 4, 8, seed))

    lit = AttentionPolicy(cfg)
    lit.load_state_dict(start)
    fit(ReinforceModule(lit, "tsp", 8, steps=3, batch_size=4, lr=1e-2, seed=7), epochs=1)
    assert any(not torch.equal(start[k], v) for k, v in lit.state_dict().items())
    for name, value in plain.state_dict().items():
        assert torch.allclose(value, lit.state_dict()[name], atol=1e-6), name
