"""Routing envs: Gymnasium API (check_env), rewards that sum to -evaluate(), masks that match evaluate()'s rules."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils import seeding
from gymnasium.utils.env_checker import check_env

import ncosolve
from ncosolve import CVRPInstance, InfeasibleSolution, InvalidInstance, TSPInstance, evaluate
from ncosolve.benchmarks import data_dir
from ncosolve.envs.tsp import TSPEnv
from ncosolve.envs.vrp import CVRPEnv, CVRPTWEnv
from ncosolve.problems.vrp import check_time_windows

ROUTING_IDS = ["ncosolve/TSP-v0", "ncosolve/CVRP-v0", "ncosolve/CVRPTW-v0"]
EIL51_OPT = [1, 22, 8, 26, 31, 28, 3, 36, 35, 20, 2, 29, 21, 16, 50, 34, 30, 9, 49, 10, 39, 33, 45, 15, 44, 42,
             40, 19, 41, 13, 25, 14, 24, 43, 7, 23, 48, 6, 27, 51, 46, 12, 47, 18, 4, 17, 37, 5, 38, 11, 32]


def rollout(env, seed: int, instance=None, check_mask=None):
    """Play uniformly random masked actions to the end; return (summed reward, final info, steps)."""
    obs, _ = env.reset(seed=seed, options=None if instance is None else {"instance": instance})
    rng = np.random.default_rng(seed)
    total, steps = 0.0, 0
    while True:
        assert obs["action_mask"].dtype == np.int8 and obs["action_mask"].sum() >= 1
        assert env.observation_space.contains(obs)
        if check_mask is not None:
            check_mask(env, obs["action_mask"])
        obs, reward, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        assert "invalid_action" not in info and not truncated
        total += reward
        steps += 1
        if terminated:
            return total, info, steps


def play(env, instance, actions):
    """Step ``actions`` on ``instance``, asserting the mask allows each; return (summed reward, final info)."""
    obs, _ = env.reset(seed=0, options={"instance": instance})
    total = 0.0
    for k, a in enumerate(actions):
        assert obs["action_mask"][a] == 1, f"action {k} ({a}) is masked"
        obs, reward, terminated, _, info = env.step(a)
        total += reward
        assert terminated == (k == len(actions) - 1)
    return total, info


def route_actions(routes) -> list[int]:
    """The action sequence that drives ``routes``: customers, then 0 to return."""
    return [a for r in routes for a in (*r, 0)]


def test_all_design_ids_are_registered_on_import():
    for env_id in [*ROUTING_IDS, "ncosolve/MAPF-v0", "ncosolve/NetworkDesign-v0"]:
        assert env_id in gym.registry
    assert isinstance(gym.make("ncosolve/TSP-v0").unwrapped, TSPEnv)
    assert isinstance(gym.make("ncosolve/CVRPTW-v0", size=7).unwrapped, CVRPTWEnv)
    assert gym.make("ncosolve/CVRP-v0", size=7).unwrapped.action_space.n == 8


@pytest.mark.filterwarnings("ignore:.*infinity")  # features are in the instance's own, unbounded units
@pytest.mark.parametrize("env_id,kwargs", [(i, {}) for i in ROUTING_IDS] + [("ncosolve/TSP-v0", {"matrix": True}),
                                                                      ("ncosolve/CVRPTW-v0", {"matrix": True})])
def test_check_env_passes(env_id, kwargs):
    check_env(gym.make(env_id, **kwargs).unwrapped)


@pytest.mark.parametrize("env_id", ROUTING_IDS)
@pytest.mark.parametrize("distribution", ["uniform", "clustered", "mixed"])
def test_random_rollouts_on_generated_instances_sum_to_minus_evaluate(env_id, distribution):
    env = gym.make(env_id, size=30, distribution=distribution).unwrapped
    for seed in range(3):
        total, info, _ = rollout(env, seed)
        assert info["feasible"] and info["objective"] == evaluate(env.instance, info["solution"])
        assert total == pytest.approx(-info["objective"], rel=1e-6)


def test_tsp_rollout_on_eil51_sums_to_minus_evaluate_and_replays_the_optimum(eil51):
    env = gym.make("ncosolve/TSP-v0", size=51).unwrapped
    for seed in range(3):
        total, info, steps = rollout(env, seed, eil51)
        assert steps == 50 and info["solution"][0] == 0 and sorted(info["solution"]) == list(range(51))
        assert total == pytest.approx(-evaluate(eil51, info["solution"]), rel=1e-6)
        assert total == -info["objective"]  # integer edge lengths: exact
    total, info = play(env, eil51, [c - 1 for c in EIL51_OPT[1:]])
    assert total == -426 and info["objective"] == 426


def test_cvrp_rollout_on_a_n32_k5_sums_to_minus_evaluate_and_replays_the_optimum(a_n32_k5):
    env = gym.make("ncosolve/CVRP-v0", size=31).unwrapped
    for seed in range(3):
        total, info, _ = rollout(env, seed, a_n32_k5)
        assert total == pytest.approx(-evaluate(a_n32_k5, info["solution"]), rel=1e-6)
        assert info["feasible"] and info["num_routes"] == len(info["solution"])
    routes = ncosolve.read_solution(data_dir() / "cvrplib" / "A-n32-k5.sol")["routes"]
    total, info = play(env, a_n32_k5, route_actions(routes))
    assert total == -784 and info["objective"] == 784 and info["solution"] == routes


def test_cvrptw_on_c101_replays_the_optimum_and_reports_fleet_overruns(c101):
    env = gym.make("ncosolve/CVRPTW-v0", size=100).unwrapped
    routes = ncosolve.read_solution(data_dir() / "solomon" / "C101.sol")["routes"]
    total, info = play(env, c101, route_actions(routes))
    assert total == pytest.approx(-827.3, rel=1e-12)
    assert info["feasible"] and info["objective"] == pytest.approx(827.3, abs=1e-9)
    # Random routes are short: they overrun Solomon's 25 vehicles, which the env reports, not hides.
    unlimited = dataclasses.replace(c101, num_vehicles=None)
    for seed in range(3):
        total, info, _ = rollout(env, seed, c101)
        assert total == pytest.approx(-evaluate(unlimited, info["solution"]), rel=1e-6)
        assert info["objective"] == evaluate(unlimited, info["solution"])
        assert info["feasible"] == (info["num_routes"] <= 25)
        if not info["feasible"]:
            with pytest.raises(InfeasibleSolution, match="25 vehicles"):
                evaluate(c101, info["solution"])


def _mask_matches_evaluate(env, mask):
    """Each customer is allowed exactly when adding it to the open route keeps that route feasible; the depot
    from a customer, except on the fleet's last vehicle while a customer still fits."""
    inst = env.instance
    last_vehicle = inst.num_vehicles is not None and len(env.routes) + 1 >= inst.num_vehicles and mask[1:].any()
    assert mask[0] == (1 if env.route and not last_vehicle else 0)
    for c in range(1, inst.n):
        if env.served[c]:
            assert mask[c] == 0
            continue
        route = np.array([*env.route, c])
        ok = inst.demands[route].sum() <= inst.capacity + 1e-9
        if ok and inst.problem == "cvrptw":
            try:
                check_time_windows(inst, [route])
            except InfeasibleSolution:
                ok = False
        assert mask[c] == ok, f"customer {c} after route {env.route}: mask {mask[c]}, evaluate says {ok}"


@pytest.mark.parametrize("env_id,size,real", [
    ("ncosolve/CVRP-v0", 20, None), ("ncosolve/CVRPTW-v0", 20, None),
    ("ncosolve/CVRP-v0", 31, "a_n32_k5"), ("ncosolve/CVRPTW-v0", 100, "c101"),
])
def test_vrp_mask_agrees_with_evaluate_at_every_step(env_id, size, real, request):
    env = gym.make(env_id, size=size).unwrapped
    instance = None if real is None else request.getfixturevalue(real)
    rollout(env, 5, instance, check_mask=_mask_matches_evaluate)


def test_tsp_mask_is_the_unvisited_nodes_and_the_tour_starts_at_node_0():
    env = gym.make("ncosolve/TSP-v0", size=6).unwrapped
    obs, _ = env.reset(seed=1)
    assert obs["current"] == 0 and obs["action_mask"].tolist() == [0, 1, 1, 1, 1, 1]
    obs, *_ = env.step(3)
    assert obs["current"] == 3 and obs["visited"].tolist() == [1, 0, 0, 1, 0, 0]
    assert obs["action_mask"].tolist() == [0, 1, 1, 0, 1, 1]


def test_masked_action_is_rejected_without_changing_the_state():
    env = gym.make("ncosolve/CVRP-v0", size=10).unwrapped
    obs, _ = env.reset(seed=3)
    obs2, reward, terminated, truncated, info = env.step(0)  # depot while at the depot
    assert reward == 0.0 and not terminated and not truncated and "at the depot already" in info["invalid_action"]
    assert all(np.array_equal(obs[k], obs2[k]) for k in obs)
    env.step(4)
    obs3, reward, _, _, info = env.step(4)
    assert reward == 0.0 and "customer 4 is already served" in info["invalid_action"]
    assert env.route == [4] and obs3["remaining_capacity"][0] == env.instance.capacity - env.instance.demands[4]


def test_capacity_and_time_window_rejections_name_the_reason():
    inst = CVRPInstance(coords=[[0, 0], [1, 0], [2, 0]], demands=[0, 3, 3], capacity=5)
    env = CVRPEnv(size=2)
    env.reset(options={"instance": inst})
    env.step(1)
    assert "demands 3 but the vehicle has 2 left" in env.step(2)[4]["invalid_action"]
    tw = ncosolve.CVRPTWInstance(coords=[[0, 0], [1, 0], [0, 1]], demands=[0, 1, 1], capacity=5,
                                 time_windows=[[0, 10], [0, 2], [0, 1.5]])
    env = CVRPTWEnv(size=2)
    obs, _ = env.reset(options={"instance": tw})
    obs, *_ = env.step(1)  # arrive at 1, then 2 is sqrt(2) away: too late for its window
    assert obs["action_mask"].tolist() == [1, 0, 0] and obs["current_time"][0] == 1.0
    assert "time window" in env.step(2)[4]["invalid_action"]
    # Customer 2 could still be served in its window after 1 (at 4 + 5.66), but the vehicle would be back late.
    late_return = ncosolve.CVRPTWInstance(coords=[[0, 0], [4, 0], [0, 4]], demands=[0, 1, 1], capacity=5,
                                          time_windows=[[0, 10], [0, 10], [0, 10]])
    env.reset(options={"instance": late_return})
    obs, *_ = env.step(1)
    assert obs["action_mask"].tolist() == [1, 0, 0]


def test_bad_actions_and_calls_out_of_order_raise():
    env = gym.make("ncosolve/TSP-v0", size=4).unwrapped
    with pytest.raises(RuntimeError, match="reset"):
        env.step(1)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not a node index"):
        env.step(4)
    for a in (1, 2, 3):
        *_, terminated, _, info = env.step(a)
    assert terminated and info["solution"] == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(0)


def test_final_step_adds_the_return_edge_and_terminal_masks_allow_one_action():
    env = gym.make("ncosolve/TSP-v0", size=3).unwrapped
    inst = TSPInstance(coords=[[0, 0], [3, 0], [3, 4]])
    env.reset(options={"instance": inst})
    assert env.step(1)[1] == pytest.approx(-3.0)
    obs, reward, terminated, _, info = env.step(2)
    assert reward == pytest.approx(-9.0) and terminated and info["objective"] == pytest.approx(12.0)
    assert obs["action_mask"].tolist() == [1, 0, 0] and obs["current"] == 0
    vrp = gym.make("ncosolve/CVRP-v0", size=1).unwrapped
    vrp.reset(options={"instance": CVRPInstance(coords=[[0, 0], [0, 2]], demands=[0, 1], capacity=1)})
    obs, reward, terminated, *_ = vrp.step(1)
    assert not terminated and obs["action_mask"].tolist() == [1, 0] and reward == pytest.approx(-2.0)
    obs, reward, terminated, _, info = vrp.step(0)
    assert terminated and info["solution"] == [[1]] and info["objective"] == pytest.approx(4.0)


def test_wrong_size_or_problem_is_refused(eil51, a_n32_k5):
    with pytest.raises(InvalidInstance, match="built for 20 nodes .* eil51 has 51"):
        gym.make("ncosolve/TSP-v0", size=20).unwrapped.reset(options={"instance": eil51})
    with pytest.raises(ValueError, match="built for 31 nodes"):
        gym.make("ncosolve/CVRP-v0", size=30).unwrapped.reset(options={"instance": a_n32_k5})
    with pytest.raises(InvalidInstance, match="expected a cvrptw instance"):
        gym.make("ncosolve/CVRPTW-v0", size=31).unwrapped.reset(options={"instance": a_n32_k5})
    with pytest.raises(InvalidInstance, match="distribution"):
        gym.make("ncosolve/TSP-v0", distribution="gaussian")


def test_matrix_tsp_observes_the_matrix_and_rewards_match_evaluate():
    rng = np.random.default_rng(0)
    dist = rng.integers(1, 100, size=(12, 12)).astype(float)
    np.fill_diagonal(dist, 0)
    atsp = TSPInstance(dist=dist, name="atsp12")
    with pytest.raises(InvalidInstance, match="matrix=True"):
        gym.make("ncosolve/TSP-v0", size=12).unwrapped.reset(options={"instance": atsp})
    env = gym.make("ncosolve/TSP-v0", size=12, matrix=True, render_mode="rgb_array").unwrapped
    obs, _ = env.reset(options={"instance": atsp})
    assert "coords" not in obs and np.array_equal(obs["distances"], dist.astype(np.float32))
    for seed in range(5):
        total, info, _ = rollout(env, seed, atsp)
        assert total == -evaluate(atsp, info["solution"])  # asymmetric: the direction driven is the one paid
    assert env.render().shape[2] == 3  # matrix-only instances are drawn on a circle


def test_seeded_resets_are_deterministic_and_draw_from_generate():
    env = gym.make("ncosolve/CVRPTW-v0", size=15).unwrapped
    first = rollout(env, 11)
    coords = env.instance.coords.copy()
    again = rollout(env, 11)
    assert np.array_equal(env.instance.coords, coords) and first[0] == again[0]
    assert first[1]["solution"] == again[1]["solution"]
    rollout(env, 12)
    assert not np.array_equal(env.instance.coords, coords)
    seed = int(seeding.np_random(11)[0].integers(2**31 - 1))
    assert np.array_equal(coords, ncosolve.generate("cvrptw", 1, 15, seed=seed)[0].coords)


def test_render_draws_the_partial_routes():
    env = gym.make("ncosolve/CVRP-v0", size=10, render_mode="rgb_array").unwrapped
    obs, _ = env.reset(seed=0)
    before = env.render()
    assert before.dtype == np.uint8 and before.ndim == 3 and before.shape[2] == 3
    env.step(int(np.flatnonzero(obs["action_mask"])[0]))
    after = env.render()
    assert after.shape == before.shape and not np.array_equal(before, after)
    assert gym.make("ncosolve/TSP-v0").unwrapped.render() is None  # no render_mode: nothing drawn
