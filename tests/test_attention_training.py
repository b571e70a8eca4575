"""scripts/train_routing.py: a few steps run, write the checkpoint format, and --resume continues exactly."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import torch

import ncosolve
from ncosolve.policies.checkpoint import load_policy
from ncosolve.policies.decode import decode

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_routing.py"


def _script():
    spec = importlib.util.spec_from_file_location("train_routing", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script executes
    spec.loader.exec_module(module)
    return module


def _train(run_dir: Path, epochs: int, problem: str = "tsp", resume: bool = False) -> Path:
    if resume:
        return _script().main(["--resume", str(run_dir), "--epochs", str(epochs)])
    return _script().main(["--problem", problem, "--size", "8", "--epochs", str(epochs), "--steps", "2",
                           "--batch-size", "4", "--val-size", "2", "--embed-dim", "16", "--heads", "2",
                           "--layers", "1", "--ff-dim", "32", "--reference-time", "0.5", "--lr", "1e-3",
                           "--run-dir", str(run_dir)])


def test_training_smoke_writes_checkpoints_and_validation(tmp_path):
    run = _train(tmp_path / "cvrp", 1, problem="cvrp")
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1] and log[0]["samples"] == 8
    assert json.loads((run / "reference.json").read_text())["method"] == "pyvrp"
    policy, meta = load_policy(run / "epoch1.pt", "cvrp")
    assert meta["training"]["samples"] == 8 and "torch thread" in meta["training"]["hardware"]
    instances = ncosolve.generate("cvrp", 2, 8, seed=0)
    solutions, lengths = decode(policy, instances)
    assert [ncosolve.evaluate(i, s) for i, s in zip(instances, solutions)] == list(lengths)


def test_resume_restores_optimizer_epoch_and_rng(tmp_path):
    straight = _train(tmp_path / "straight", 2)
    split = _train(tmp_path / "split", 1)
    state = torch.load(split / "train_state.pt", weights_only=True)
    assert state["epoch"] == 1 and state["optimizer"]["state"], "optimizer moments are saved"
    _train(split, 2, resume=True)
    a = torch.load(straight / "train_state.pt", weights_only=True)
    b = torch.load(split / "train_state.pt", weights_only=True)
    assert b["epoch"] == 2 and b["samples"] == a["samples"] == 16
    for name, tensor in a["policy"].items():
        assert torch.equal(tensor, b["policy"][name]), name
    for key, moments in a["optimizer"]["state"].items():
        assert torch.equal(moments["exp_avg"], b["optimizer"]["state"][key]["exp_avg"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert len((split / "log.jsonl").read_text().splitlines()) == 2
