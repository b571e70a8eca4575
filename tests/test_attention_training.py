"""scripts/train_routing.py: a few steps run, write the checkpoint format, and --resume continues exactly."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


def _args(run_dir: Path, epochs: int, problem: str = "tsp", steps: int = 2) -> list[str]:
    return ["--problem", problem, "--size", "8", "--epochs", str(epochs), "--steps", str(steps), "--batch-size", "4",
            "--val-size", "2", "--embed-dim", "16", "--heads", "2", "--layers", "1", "--ff-dim", "32",
            "--reference-time", "5", "--lr", "1e-3", "--run-dir", str(run_dir)]


def _train(run_dir: Path, epochs: int, problem: str = "tsp", resume: bool = False, steps: int = 2) -> Path:
    if resume:
        return _script().main(["--resume", str(run_dir), "--epochs", str(epochs)])
    return _script().main(_args(run_dir, epochs, problem, steps))


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


def test_resume_without_epochs_trains_to_the_runs_own_epochs_and_says_when_there_is_nothing_left(tmp_path):
    """--resume keeps the run's arguments; --epochs, --threads and --device may be given anew."""
    run = _train(tmp_path / "run", 1)
    with pytest.raises(SystemExit, match="already trained 1 of 1 epochs: pass --epochs N with N > 1"):
        _script().main(["--resume", str(run)])
    args = json.loads((run / "args.json").read_text())
    (run / "args.json").write_text(json.dumps({**args, "epochs": 2}))  # as if stopped after epoch 1 of 2
    _script().main(["--resume", str(run), "--threads", "2"])  # where it runs may change; what it trains may not
    assert torch.load(run / "train_state.pt", weights_only=True)["epoch"] == 2
    _, meta = load_policy(run / "epoch2.pt", "tsp")
    assert "2 torch thread(s)" in meta["training"]["hardware"]
    assert json.loads((run / "args.json").read_text())["threads"] == 1


def test_run_killed_mid_epoch_resumes_to_the_uninterrupted_state(tmp_path):
    """kill -9 during epoch 2: --resume restarts epoch 2 from the epoch-1 state and ends where a straight run ends."""
    steps = 150
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *_args(killed, 2, steps=steps)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not (killed / "train_state.pt").exists():
            assert proc.poll() is None, "training exited before finishing epoch 1"
            assert time.time() < deadline, "epoch 1 did not finish within 120 s"
            time.sleep(0.01)
        time.sleep(0.2)  # inside epoch 2's steps
        assert proc.poll() is None, "epoch 2 ended before the kill; the test needs a longer epoch"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert torch.load(killed / "train_state.pt", weights_only=True)["epoch"] == 1
    assert len((killed / "log.jsonl").read_text().splitlines()) == 1
    _train(killed, 2, resume=True)
    straight = _train(tmp_path / "straight", 2, steps=steps)
    a = torch.load(straight / "train_state.pt", weights_only=True)
    b = torch.load(killed / "train_state.pt", weights_only=True)
    assert (b["epoch"], b["samples"]) == (a["epoch"], a["samples"]) == (2, 2 * steps * 4)
    for name, tensor in a["policy"].items():
        assert torch.equal(tensor, b["policy"][name]), name
    for key, moments in a["optimizer"]["state"].items():
        assert torch.equal(moments["exp_avg_sq"], b["optimizer"]["state"][key]["exp_avg_sq"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert [json.loads(line)["epoch"] for line in (killed / "log.jsonl").read_text().splitlines()] == [1, 2]
    load_policy(killed / "policy.pt", "tsp")  # the last checkpoint is whole, not half-written


def test_reference_costs_retry_with_twice_the_time_then_refuse(toy_methods):
    """A reference that finds nothing is run again with doubled time (``tries``); with none left, an error."""
    from ncosolve.policies.reinforce import reference_costs

    budgets = []

    def slow_starter(instance, time_limit, seed=0):  # finds a tour only when given at least 1 s
        budgets.append(time_limit)
        return (list(range(instance.n)) if time_limit >= 1.0 else None), {}

    toy_methods("t-slow-start", slow_starter)
    inst = ncosolve.generate("tsp", 1, 8, seed=0)[0]
    assert reference_costs([inst], "t-slow-start", 0.25, tries=3)[0] == ncosolve.evaluate(inst, list(range(8)))
    assert budgets == [0.25, 0.5, 1.0]
    with pytest.raises(ncosolve.NcoError, match="then doubled, 2 runs"):
        reference_costs([inst], "t-slow-start", 0.25, tries=2)
