"""Network design: TNTP/DNDP readers, generators, evaluate, the exact/GA/greedy baselines and the Gymnasium env."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ncosolve
from ncosolve.baselines.ndp_exact import all_designs
from ncosolve.errors import InfeasibleSolution, InvalidInstance
from ncosolve.io.tntp import read_dndp, read_tntp, read_trips
from ncosolve.problems.network_generators import (braess, dndp_instance, grid_city, lane_addition_instance, lane_swap_instance,
                                     perturb_demand, ring_radial_city)
from ncosolve.problems import evaluate
from ncosolve.problems.network import evaluate_designs

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_dndp = pytest.mark.skipif(not (SHARED / "dndp" / "SF_DNDP_10_1.txt").is_file(),
                                reason=f"DNDP benchmark not found in {SHARED / 'dndp'} (academic licence: not shipped)")


@pytest.fixture(scope="module")
def grid_dndp():
    return dndp_instance(grid_city(3, 3, seed=0)[0], num_candidates=6, seed=0)


def test_braess_paradox_optimum_is_to_build_nothing():
    inst = braess()
    assert evaluate(inst, [1]) == pytest.approx(552.0, rel=1e-6)
    assert evaluate(inst, [0]) == pytest.approx(498.0, rel=1e-6)
    res = ncosolve.solve(inst, method="ndp-exact", time_limit=30)
    assert list(res.solution) == [0] and res.cost == pytest.approx(498.0, rel=1e-6)
    assert list(ncosolve.solve(inst, method="ndp-greedy", time_limit=30).solution) == [0]


def test_read_instance_detects_tntp(tmp_path):
    from ncosolve.benchmarks import data_dir
    net = ncosolve.read_instance(data_dir() / "networks" / "Braess_net.tntp")
    assert (net.num_nodes, net.num_links, net.num_zones) == (4, 5, 2)
    assert net.demand[0, 1] == 6.0
    bad = tmp_path / "x_net.tntp"
    bad.write_text((data_dir() / "networks" / "Braess_net.tntp").read_text().replace("<NUMBER OF LINKS> 5",
                                                                                     "<NUMBER OF LINKS> 6"))
    with pytest.raises(InvalidInstance, match="NUMBER OF LINKS"):
        read_tntp(bad, trips=data_dir() / "networks" / "Braess_trips.tntp")
    alone = tmp_path / "y_net.tntp"
    alone.write_text((data_dir() / "networks" / "Braess_net.tntp").read_text())
    with pytest.raises(InvalidInstance, match="no demand file"):
        read_tntp(alone)
    trips = tmp_path / "t_trips.tntp"
    trips.write_text("<NUMBER OF ZONES> 2\n<TOTAL OD FLOW> 7.0\n<END OF METADATA>\nOrigin 1\n 2 : 6.0;\n")
    with pytest.raises(InvalidInstance, match="header says"):
        read_trips(trips)


def test_evaluate_refuses_bad_designs(grid_dndp):
    inst = grid_dndp
    with pytest.raises(InfeasibleSolution, match="over the budget"):
        evaluate(inst, np.ones(inst.num_candidates))
    with pytest.raises(InfeasibleSolution, match="expected 6 entries"):
        evaluate(inst, [0, 1])
    with pytest.raises(InfeasibleSolution, match="0 or 1"):
        evaluate(inst, [0, 2, 0, 0, 0, 0])


def test_design_variants_change_capacities_as_documented():
    net, lanes = grid_city(3, 3, seed=0)
    la = lane_addition_instance(net, lanes, budget_ratio=0.5)
    design = np.zeros(la.num_candidates, dtype=int)
    design[[0, 5]] = 1
    cap, is_open = la.link_arrays(design[None])
    assert cap[0, 0] == pytest.approx(net.capacity[0] * (1 + 1 / lanes[0]))
    assert cap[0, 1] == net.capacity[1] and is_open.all()
    assert la.budget == pytest.approx(0.5 * (net.free_flow_time * net.capacity).sum())
    ls = lane_swap_instance(net, lanes)
    a, r = ls.candidate_links[0]
    both = np.zeros(ls.num_candidates, dtype=int)
    both[[0, 1]] = 1  # candidates 0 and 1 are the two directions of one pair
    with pytest.raises(InfeasibleSolution, match="other way"):
        ls.check_design(both)
    one = np.zeros(ls.num_candidates, dtype=int)
    one[0] = 1
    cap, _ = ls.link_arrays(one[None])
    moved = net.capacity[a] / lanes[a]
    assert (cap[0, a], cap[0, r]) == pytest.approx((net.capacity[a] - moved, net.capacity[r] + moved))


def test_generators_are_seeded_and_valid():
    a, _ = ring_radial_city(2, 5, seed=4)
    b, _ = ring_radial_city(2, 5, seed=4)
    assert np.array_equal(a.demand, b.demand) and np.array_equal(a.free_flow_time, b.free_flow_time)
    assert (a.num_nodes, a.num_links) == (11, 2 * (5 + 5 + 5 + 5))
    draws = perturb_demand(a.demand, seed=1, count=4000)
    big = a.demand > 0
    assert (draws >= 0).all()
    np.testing.assert_allclose(draws.mean(0)[big], a.demand[big], rtol=0.05)
    np.testing.assert_allclose(draws.std(0)[big] / a.demand[big], 0.2, rtol=0.15)


def test_exact_equals_brute_force_and_heuristics_are_feasible(grid_dndp):
    inst = grid_dndp
    designs = all_designs(inst.num_candidates)
    brute = evaluate_designs(inst, designs)
    assert np.isinf(brute).any() and np.isfinite(brute).any()  # the budget binds
    exact = ncosolve.solve(inst, method="ndp-exact", time_limit=60)
    assert exact.info["complete"]
    assert exact.cost == pytest.approx(brute.min(), rel=1e-9)
    for method in ("ndp-greedy", "ndp-ga"):
        res = ncosolve.solve(inst, method=method, time_limit=3, seed=1)
        assert res.feasible and res.cost >= exact.cost * (1 - 1e-9)
        assert res.runtime_s <= 1.1 * 3 + 0.5
    assert ncosolve.solve(inst, method="ndp-ga", time_limit=3).cost == pytest.approx(exact.cost, rel=1e-9)


def test_env_passes_check_env_and_rewards_sum_to_saving(grid_dndp):
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    from ncosolve.envs.network_design import NetworkDesignEnv

    env = NetworkDesignEnv(grid_dndp)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    start, total, done = info["objective"], 0.0, False
    while not done:
        action = int(np.flatnonzero(obs["action_mask"])[0])
        obs, reward, done, _, info = env.step(action)
        total += reward
    assert start - total == pytest.approx(info["objective"], rel=1e-9)
    assert info["objective"] == pytest.approx(evaluate(grid_dndp, info["design"]), rel=1e-9)
    with pytest.raises(ValueError, match="action mask"):
        env.reset(seed=0)
        env.step(int(np.flatnonzero(env._mask() == 0)[0]) if (env._mask() == 0).any() else -1)
    assert isinstance(env.action_space, gym.spaces.Discrete)


@needs_dndp
def test_siouxfalls_dndp_reader():
    inst = read_dndp(SHARED / "dndp" / "SF_DNDP_10_1.txt", trips=SHARED / "tntp" / "SiouxFalls_trips.tntp")
    assert (inst.num_candidates, inst.network.num_links) == (10, 86)
    assert inst.budget == pytest.approx(0.5 * 9000)
    assert not inst.base_open[76:].any() and inst.base_open[:76].all()
    with pytest.raises(InvalidInstance, match="pass trips"):
        read_dndp(SHARED / "dndp" / "SF_DNDP_10_1.txt")
