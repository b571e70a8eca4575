"""The Follower-style MAPF policy: checkpoint loading and refusal, mapf-learned paths pass evaluate, a PPO
update changes the weights, determinism for a fixed seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ncosolve
from ncosolve.envs.mapf import MAPFCore
from ncosolve.problems.mapf_generators import generate_mapf, generate_mapf_lifelong
from ncosolve.policies.checkpoint import CheckpointError
from ncosolve.policies.mapf_follower import (CHANNELS, SHIPPED, Follower, FollowerConfig, FollowerNet,
                                             load_follower, save_follower)
from ncosolve.policies.mapf_ppo import PPOConfig, VecFollower, collect, ppo_update
from ncosolve.problems.mapf import MAPFInstance, check_paths, evaluate_mapf, evaluate_mapf_lifelong


def test_shipped_checkpoint_loads_with_its_budget():
    net, meta = load_follower()
    assert meta["ncosolve_version"] and meta["config"]["training"]["samples"] > 0
    assert meta["config"]["training"]["wall_minutes"] > 0 and meta["config"]["training"]["hardware"]
    obs = torch.zeros(3, len(CHANNELS), 11, 11)
    logits, value = net(obs, torch.ones(3, 5, dtype=torch.bool))
    assert logits.shape == (3, 5) and value.shape == (3,)


def test_wrong_or_corrupt_checkpoint_refused(tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_follower(bad)
    with pytest.raises(CheckpointError, match="no such file"):
        load_follower(tmp_path / "missing.pt")
    attention = tmp_path / "attention.pt"  # a readable checkpoint of another family
    torch.save({"meta": '{"format": "ncosolve-attention-policy/1"}', "state_dict": {}}, attention)
    with pytest.raises(CheckpointError, match="Follower"):
        load_follower(attention)

    class Evil:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    evil = tmp_path / "evil.pt"
    torch.save({"meta": "{}", "state_dict": Evil()}, evil)
    with pytest.raises(CheckpointError, match="refused"):
        load_follower(evil)
    small = tmp_path / "small.pt"  # weights that do not fit the stored config
    save_follower(FollowerNet(FollowerConfig(hidden=8)), small)
    payload = torch.load(small, weights_only=True)
    payload["meta"] = payload["meta"].replace('"hidden": 8', '"hidden": 16')
    torch.save(payload, small)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_follower(small)


def test_save_load_roundtrip(tmp_path):
    net = FollowerNet(FollowerConfig(hidden=32, training={"samples": 7}))
    path = save_follower(net, tmp_path / "f.pt")
    loaded, meta = load_follower(path)
    assert meta["config"]["training"] == {"samples": 7}
    for k, v in net.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])


def test_plan_follows_a_shortest_path_around_walls():
    grid = np.zeros((5, 5), dtype=bool)
    grid[1:4, 2] = True  # a wall between (2, 0) and (2, 4)
    inst = MAPFInstance(grid, [(2, 0)], [(2, 4)])
    follower = Follower(MAPFCore(inst, "nothing", 5, 50), FollowerConfig())
    steps = 0
    while not np.all(follower.core.pos == inst.goals) and steps < 20:
        follower.observe()
        follower.step(follower.plan_actions())
        steps += 1
    assert steps == 8  # 4 columns across, plus 2 rows up and 2 down around the wall
    assert evaluate_mapf(inst, np.stack(follower.core.history, axis=1)) == 8


def _first_steps(contraflow: float) -> list[tuple[int, int]]:
    """Two agents facing each other on a ring of two one-lane corridors (rows 0 and 2, joined at both ends): the
    first cell of each one's plan."""
    grid = np.zeros((3, 7), dtype=bool)
    grid[1, 1:6] = True
    inst = MAPFInstance(grid, [(0, 0), (0, 6)], [(0, 6), (0, 0)])
    follower = Follower(MAPFCore(inst, "nothing", 5, 20), FollowerConfig(heat_cost=0.0, contraflow=contraflow))
    def first_cells():
        follower.observe()
        return [tuple(int(x) for x in divmod(int(c), 7)) for c in follower.paths[:, 0]]

    first = first_cells()
    assert first_cells() == first  # replanning against each other's plans keeps them apart (no switching back)
    return first


def test_contraflow_sends_one_of_two_facing_agents_around():
    assert _first_steps(0.0) == [(0, 1), (0, 5)]  # both into the short top aisle, head-on
    # agent 0 plans the top aisle; agent 1, planning after it, finds the top dearer (6 steps + 6 against agent
    # 0's moves) than going around below (8 steps)
    assert _first_steps(1.0) == [(0, 1), (1, 6)]


def _one_hot(actions) -> np.ndarray:
    return np.eye(5, dtype=np.float32)[np.asarray(actions)]


def test_shield_keeps_free_moves_and_pushes_instead_of_waiting():
    grid = np.zeros((5, 5), dtype=bool)
    far = MAPFInstance(grid, [(0, 0), (4, 4)], [(0, 4), (4, 0)])
    follower = Follower(MAPFCore(far, "nothing", 5, 10), FollowerConfig(shield=True))
    assert list(follower.shield(np.array([4, 3]), _one_hot([4, 3]))) == [4, 3]  # no conflict: moves kept
    # head-on: 0 at (2, 1) wants right, 1 at (2, 2) wants left; both only know that one move
    inst = MAPFInstance(grid, [(2, 1), (2, 2)], [(2, 4), (2, 0)])
    plain = Follower(MAPFCore(inst, "nothing", 5, 10), FollowerConfig())
    plain.step(np.array([4, 3]))
    assert np.array_equal(plain.core.pos, inst.starts)  # without the shield the swap turns into two waits
    shielded = Follower(MAPFCore(inst, "nothing", 5, 10), FollowerConfig(shield=True))
    shielded.waiting[:] = [5.0, 0.0]  # agent 0 has waited longer: it goes first and pushes agent 1 aside
    shielded.step(np.array([4, 3]), _one_hot([4, 3]))
    pos = shielded.core.pos
    assert tuple(pos[0]) == (2, 2) and tuple(pos[1]) not in ((2, 1), (2, 2))
    check_paths(inst, np.stack(shielded.core.history, axis=1))  # legal moves, no vertex or swap conflict


def test_shielded_learned_paths_pass_evaluate():
    inst = generate_mapf_lifelong("random", 32, 64, seed=4, size=14)
    res = ncosolve.solve(inst, "mapf-learned", time_limit=20, shield=True)
    assert res.feasible and res.info["shield"] and res.cost == evaluate_mapf_lifelong(inst, res.solution) > 0
    one_shot = generate_mapf("random", 8, seed=2, size=10, density=0.1)
    res = ncosolve.solve(one_shot, "mapf-learned", time_limit=20, shield=True)
    assert res.feasible and res.cost == evaluate_mapf(one_shot, res.solution)


def test_joint_planning_can_be_turned_off():
    inst = generate_mapf_lifelong("random", 16, 48, seed=6, size=12)
    on = ncosolve.solve(inst, "mapf-learned", time_limit=20)
    off = ncosolve.solve(inst, "mapf-learned", time_limit=20, pbs_window=0)
    assert on.info["pbs_window"] == 12 and off.info["pbs_window"] == 0
    for res in (on, off):
        assert res.feasible and res.cost == evaluate_mapf_lifelong(inst, res.solution)
    assert not np.array_equal(on.solution, off.solution)


def test_learned_lifelong_paths_pass_evaluate():
    inst = generate_mapf_lifelong("random", 24, 64, seed=3, size=16)
    res = ncosolve.solve(inst, "mapf-learned", time_limit=20)
    assert res.feasible and res.solution.shape == (24, 65, 2)
    assert res.cost == evaluate_mapf_lifelong(inst, res.solution) > 0
    assert res.info["policy_steps"] == 64


def test_learned_one_shot_is_feasible_or_says_why():
    inst = generate_mapf("random", 6, seed=1, size=10, density=0.1)
    res = ncosolve.solve(inst, "mapf-learned", time_limit=20)
    if res.feasible:
        assert res.cost == evaluate_mapf(inst, res.solution)
    else:
        assert res.solution is None and "agents on their goals" in res.info["infeasible_reason"]
    short = ncosolve.solve(inst, "mapf-learned", time_limit=20, max_steps=1)  # nobody gets home in one step
    assert not short.feasible and "step limit" in short.info["infeasible_reason"]


def test_learned_is_deterministic_for_a_seed():
    inst = generate_mapf_lifelong("random", 16, 40, seed=5, size=14)
    a = ncosolve.solve(inst, "mapf-learned", seed=7, time_limit=20)
    b = ncosolve.solve(inst, "mapf-learned", seed=7, time_limit=20)
    assert np.array_equal(a.solution, b.solution)


def test_learned_respects_time_limit():
    inst = generate_mapf_lifelong("random", 64, 2000, seed=2, size=20)
    res = ncosolve.solve(inst, "mapf-learned", time_limit=0.5)
    assert res.runtime_s < 0.5 + 1.0
    assert res.feasible and res.solution.shape[1] == 2001 and res.info["policy_steps"] < 2000


def test_ppo_update_changes_weights():
    torch.manual_seed(0)
    cfg, ppo = FollowerConfig(hidden=32, conv_channels=8), PPOConfig(epochs=1, minibatches=2)
    net = FollowerNet(cfg)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    insts = [generate_mapf_lifelong("random", 8, 32, seed=s, size=12) for s in (0, 1)]
    vec = VecFollower(insts, cfg, ppo)
    gen = torch.Generator().manual_seed(0)
    batch = collect(net, vec, 6, gen)
    assert batch["obs"].shape == (6, 16, len(CHANNELS), 11, 11) and batch["rewards"].shape == (6, 16)
    stats = ppo_update(net, torch.optim.Adam(net.parameters(), lr=1e-3), batch, ppo, gen)
    assert all(np.isfinite(v) for v in stats.values())
    assert any(not torch.equal(v, net.state_dict()[k]) for k, v in before.items())


def test_shipped_checkpoint_is_in_the_package():
    assert SHIPPED.is_file() and SHIPPED.stat().st_size < 5_000_000


@pytest.mark.slow
def test_training_script_runs_and_resumes(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "train_mapf.py"
    small = ["--envs", "2", "--agents-min", "6", "--agents-max", "8", "--horizon", "32", "--rollout", "16",
             "--val-agents", "8"]
    subprocess.run([sys.executable, str(script), "--max-samples", "200", "--out", str(tmp_path), *small], check=True)
    run = next(tmp_path.iterdir())
    _, meta = load_follower(run / "policy.pt")
    first = meta["config"]["training"]["samples"]
    subprocess.run([sys.executable, str(script), "--resume", str(run), "--max-samples", "1000"], check=True)
    _, meta = load_follower(run / "policy.pt")
    assert first > 0 and meta["config"]["training"]["samples"] > first
    assert len((run / "log.jsonl").read_text().splitlines()) >= 2
