"""MAPF envs: Gymnasium check_env, PettingZoo parallel_api_test, move resolution, metrics equal evaluate()."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import ncosolve
from ncosolve.envs.mapf import MODES, MAPFEnv, resolve_moves
from ncosolve.envs.mapf_pettingzoo import MAPFParallelEnv
from ncosolve.problems.mapf_generators import generate_mapf, generate_mapf_lifelong
from ncosolve.problems.mapf import MOVES, check_paths, evaluate_mapf, evaluate_mapf_lifelong


def actions_from_paths(paths: np.ndarray) -> np.ndarray:
    """(T, agents) actions 0-4 that replay (agents, T+1, 2) paths."""
    delta = np.diff(paths, axis=1)  # (agents, T, 2)
    return np.argmax(np.all(delta[..., None, :] == MOVES[None, None], axis=-1), axis=-1).T


@pytest.mark.parametrize("mode", MODES)
def test_check_env(mode):
    check_env(MAPFEnv(agents=6, on_target=mode, max_episode_steps=20), skip_render_check=True)


@pytest.mark.parametrize("mode", MODES)
def test_parallel_api(mode):
    env = MAPFParallelEnv(agents=6, on_target=mode, max_episode_steps=40, grid_options={"size": 8, "density": 0.1})
    parallel_api_test(env, num_cycles=60)


def test_conflicts_become_waits_and_cascade():
    pos = np.array([[0, 0], [0, 1], [0, 3], [2, 0], [2, 2], [2, 1]])
    proposed = np.array([[0, 1], [0, 0],   # 0 and 1 swap: both wait
                         [0, 2],           # 2 moves freely
                         [2, 1],           # 3 follows 5, which is blocked by 4 -> cascade: 3 waits too
                         [2, 2],           # 4 waits
                         [2, 2]])          # 5 moves into 4's cell: vertex conflict with the waiting 4
    active = np.ones(6, dtype=bool)
    nxt = resolve_moves(pos, proposed, active, width=5)
    expected = pos.copy()
    expected[2] = [0, 2]
    np.testing.assert_array_equal(nxt, expected)
    # two agents into one empty cell: both wait; an inactive agent does not block
    pos = np.array([[1, 0], [1, 2], [0, 1]])
    nxt = resolve_moves(pos, np.array([[1, 1], [1, 1], [1, 1]]), np.array([True, True, False]), width=3)
    np.testing.assert_array_equal(nxt, pos)
    nxt = resolve_moves(pos, np.array([[1, 1], [1, 2], [0, 1]]), np.array([True, True, False]), width=3)
    np.testing.assert_array_equal(nxt, [[1, 1], [1, 2], [0, 1]])


def test_random_play_is_conflict_free_and_masked():
    env = MAPFEnv(agents=24, on_target="nothing", max_episode_steps=60, grid_kind="maze")
    obs, info = env.reset(seed=3)
    inst = info["instance"]
    rng = np.random.default_rng(0)
    for _ in range(60):
        assert np.all(obs["action_mask"][:, 0] == 1)
        obs, _, term, trunc, step_info = env.step(rng.integers(5, size=24))
        if term or trunc:
            break
    paths = step_info["paths"]
    check_paths(inst, paths)  # raises on any vertex / swap conflict or illegal move
    r = env.obs_radius
    assert obs["obs"].shape == (24, 3, 2 * r + 1, 2 * r + 1)
    assert np.all(obs["obs"][:, 2].sum(axis=(1, 2)) == 1)  # the target (or its projection) is always shown
    # every window, cell by cell: obstacles (outside the map counts as obstacle) and the other agents
    grid, pos = inst.grid, obs["xy"]
    for i, (row, col) in enumerate(pos):
        for dr in range(-r, r + 1):
            for dc in range(-r, r + 1):
                y, x = row + dr, col + dc
                inside = 0 <= y < grid.shape[0] and 0 <= x < grid.shape[1]
                assert obs["obs"][i, 0, dr + r, dc + r] == (not inside or grid[y, x])
                other = inside and (dr or dc) and np.any(np.all(pos == (y, x), axis=1))
                assert obs["obs"][i, 1, dr + r, dc + r] == bool(other)


def test_replaying_lacam_reproduces_evaluate():
    inst = generate_mapf("random", 20, seed=1, size=16, density=0.2)
    res = ncosolve.solve(inst, "mapf-lacam", time_limit=5)
    env = MAPFEnv(agents=20, on_target="nothing", max_episode_steps=500)
    env.reset(seed=0, options={"instance": inst})
    acts = actions_from_paths(res.solution)
    for t, a in enumerate(acts):
        _, reward, term, trunc, info = env.step(a)
        if term:
            break
    assert term and not trunc
    np.testing.assert_array_equal(info["paths"], res.solution[:, :info["paths"].shape[1]])
    metrics = info["metrics"]
    assert metrics["CSR"] == 1.0 and metrics["ISR"] == 1.0
    assert metrics["SoC"] == evaluate_mapf(inst, info["paths"]) == res.cost


def test_replaying_lifelong_pibt_reproduces_throughput():
    inst = generate_mapf_lifelong("random", 16, horizon=64, seed=2, size=16, density=0.2)
    res = ncosolve.solve(inst, "mapf-pibt")
    env = MAPFEnv(agents=16, on_target="restart")
    env.reset(options={"instance": inst})
    total = 0.0
    for a in actions_from_paths(res.solution):
        _, reward, term, trunc, info = env.step(a)
        total += reward
    assert trunc and not term
    np.testing.assert_array_equal(info["paths"], res.solution)
    assert info["metrics"]["avg_throughput"] == pytest.approx(evaluate_mapf_lifelong(inst, res.solution))
    assert total / inst.horizon == pytest.approx(res.cost)


def test_finish_mode_removes_agents_in_pettingzoo():
    inst = generate_mapf("random", 4, seed=0, size=10, density=0.1)
    res = ncosolve.solve(inst, "mapf-lacam", time_limit=5)
    env = MAPFParallelEnv(agents=4, on_target="finish")
    env.reset(options={"instance": inst})
    acts = actions_from_paths(res.solution)
    rewards = np.zeros(4)
    for a in acts:
        live = list(env.agents)
        _, rew, terms, _, _ = env.step({name: int(a[int(name.split("_")[1])]) for name in live})
        for name, r in rew.items():
            rewards[int(name.split("_")[1])] += r
        if not env.agents:
            break
    assert env.agents == [] and np.all(rewards == 1.0)
