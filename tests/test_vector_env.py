"""The routing core as a vector env: the one-instance envs' contract, batched, and rewards that are -evaluate()."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import ncosolve
from ncosolve.envs.routing_core import RouteState, routing_tensors
from ncosolve.envs.vector import CVRPTWVectorEnv, RoutingVectorEnv

IDS = ["ncosolve/TSP-v0", "ncosolve/CVRP-v0", "ncosolve/CVRPTW-v0"]


def random_actions(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random allowed action per row."""
    return np.argmax(np.where(mask == 1, rng.random(mask.shape), -1.0), axis=1)


@pytest.mark.parametrize("env_id,matrix", [(IDS[0], False), (IDS[0], True), (IDS[1], False), (IDS[2], False)])
def test_1000_random_episodes_sum_to_minus_evaluate(env_id, matrix):
    envs = gym.make_vec(env_id, num_envs=250, vectorization_mode="vector_entry_point", size=12, matrix=matrix,
                        distribution="mixed")
    assert isinstance(envs, RoutingVectorEnv)
    obs, _ = envs.reset(seed=3)
    rng = np.random.default_rng(3)
    totals, ended, checked = np.zeros(250), 0, set()
    while ended < 1000:
        assert envs.observation_space.contains(obs)
        assert (obs["action_mask"].sum(1) >= 1).all()
        instances = list(envs.unwrapped.instances)
        obs, reward, terminated, truncated, info = envs.step(random_actions(obs["action_mask"], rng))
        assert not info["invalid_action"].any() and not truncated.any()
        totals += reward
        for i in np.flatnonzero(terminated):
            solution, objective = info["final_info"]["solution"][i], info["final_info"]["objective"][i]
            assert objective == ncosolve.evaluate(instances[i], solution)
            assert totals[i] == pytest.approx(-objective, rel=1e-9)
            checked.add(instances[i].name)
            totals[i] = 0.0
            ended += 1
    assert len(checked) > 900  # fresh instances after every episode, not the same ones again


def test_vector_env_steps_like_the_one_instance_env():
    """Same instances, same actions: the same rewards, masks and observations as ncosolve/CVRPTW-v0."""
    instances = ncosolve.generate("cvrptw", 4, 9, seed=11)
    envs = CVRPTWVectorEnv(num_envs=4, size=9)
    obs, _ = envs.reset(seed=0, options={"instances": instances})
    singles = [gym.make("ncosolve/CVRPTW-v0", size=9).unwrapped for _ in instances]
    single_obs = [env.reset(options={"instance": inst})[0] for env, inst in zip(singles, instances)]
    rng = np.random.default_rng(0)
    live = np.ones(4, dtype=bool)
    while live.any():
        for k in np.flatnonzero(live):
            for key, value in single_obs[k].items():
                assert np.array_equal(obs[key][k], value), key
        actions = random_actions(obs["action_mask"], rng)
        obs, reward, terminated, _, info = envs.step(actions)
        for k in np.flatnonzero(live):
            single_obs[k], r, done, _, single_info = singles[k].step(int(actions[k]))
            assert r == reward[k] and done == terminated[k]
            if done:
                assert single_info["solution"] == info["final_info"]["solution"][k]
                live[k] = False


def test_masked_actions_are_rejected_per_row_and_bad_ones_raise():
    envs = gym.make_vec("ncosolve/CVRP-v0", num_envs=3, vectorization_mode="vector_entry_point", size=5)
    obs, _ = envs.reset(seed=1)
    before = {key: value.copy() for key, value in obs.items()}
    allowed = random_actions(obs["action_mask"], np.random.default_rng(0))
    obs, reward, terminated, _, info = envs.step(np.array([0, allowed[1], 0]))  # the depot at the depot: masked
    assert info["invalid_action"].tolist() == [True, False, True] and reward[0] == 0.0 and reward[2] == 0.0
    assert reward[1] < 0 and not terminated.any()
    for key in obs:
        assert np.array_equal(obs[key][[0, 2]], before[key][[0, 2]]), key
    with pytest.raises(ValueError, match="node indices"):
        envs.step(np.array([0, 9, 0]))
    with pytest.raises(ValueError, match="3 node indices"):
        envs.step(np.array([1, 2]))


def test_tensor_observations_and_same_step_autoreset():
    envs = gym.make_vec("ncosolve/TSP-v0", num_envs=2, vectorization_mode="vector_entry_point", size=4,
                        tensors=True)
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    obs, _ = envs.reset(seed=0)
    assert isinstance(obs["action_mask"], torch.Tensor) and obs["current"].tolist() == [0, 0]
    first = [inst.name for inst in envs.unwrapped.instances]
    for step in range(3):
        action = torch.argmax(obs["action_mask"].float() * torch.arange(4), dim=1)  # highest allowed node
        obs, _, terminated, _, info = envs.step(action)
    assert terminated.all() and info["_final_info"].all()
    assert [s[0] for s in info["final_info"]["solution"]] == [0, 0]
    assert obs["current"].tolist() == [0, 0] and obs["visited"].sum().item() == 2  # fresh episodes at node 0
    assert [inst.name for inst in envs.unwrapped.instances] != first


@pytest.mark.parametrize("env_id", IDS)
def test_the_one_instance_envs_still_pass_check_env(env_id):
    check_env(gym.make(env_id, size=6).unwrapped, skip_render_check=True)


def test_the_last_vehicle_of_a_capped_fleet_serves_what_it_can_before_returning():
    inst = dataclasses.replace(ncosolve.generate("cvrp", 1, 10, seed=2)[0], num_vehicles=1)
    state = RouteState.initial(routing_tensors([inst]), 1)
    while not bool(state.done.all()):
        mask = state.mask()[0, 0]
        if bool(mask[1:].any()):
            assert not bool(mask[0]), "the only vehicle may not return while a customer still fits"
        state.step(torch.tensor([[int(torch.nonzero(mask)[-1])]]))
    assert int(state.routes[0, 0]) >= 1
