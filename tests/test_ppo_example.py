"""scripts/ppo_tsp_vector.py, the example of an off-the-shelf masked PPO agent on the vector env, runs and learns."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ppo_tsp_vector.py"


def load_script():
    spec = importlib.util.spec_from_file_location("ppo_tsp_vector", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_a_few_ppo_updates_run_on_the_vector_env_and_move_the_weights():
    ppo = load_script()
    torch.manual_seed(0)
    before = [p.detach().clone() for p in ppo.Agent(16).parameters()]  # main's initial weights (same seed)
    agent, history = ppo.main(ppo.Args(size=8, num_envs=8, steps=14, updates=3, hidden=16, seed=0))
    assert [row["update"] for row in history] == [1, 2, 3]
    assert all(row["episodes"] == 16 for row in history)  # 8 envs x 14 steps, 7 steps per TSP8 episode
    assert all(math.isfinite(row["policy_loss"]) and math.isfinite(row["value_loss"]) for row in history)
    assert all(0 < row["mean_length"] < 8 * math.sqrt(2) for row in history)
    assert any(not torch.equal(b, a) for b, a in zip(before, agent.parameters()))


def test_the_agent_never_picks_a_masked_node():
    ppo = load_script()
    agent = ppo.Agent(8)
    obs = {"coords": torch.rand(4, 5, 2), "current": torch.zeros(4, dtype=torch.long),
           "visited": torch.tensor([[1, 0, 1, 0, 0]] * 4, dtype=torch.int8),
           "action_mask": torch.tensor([[0, 1, 0, 1, 0]] * 4, dtype=torch.int8)}
    for _ in range(50):
        action, logp, _, _ = agent.act(obs)
        assert set(action.tolist()) <= {1, 3} and torch.isfinite(logp).all()
