"""MAPF baselines: every method's paths pass evaluate; CBS and CP-SAT agree on optimal SoC; PIBT/LaCAM scale."""

from __future__ import annotations

import time

import numpy as np
import pytest

import ncosolve
from ncosolve.benchmarks import data_dir
from ncosolve.problems.mapf_generators import generate_mapf, generate_mapf_lifelong
from ncosolve.problems.mapf import MAPFInstance, evaluate_mapf, evaluate_mapf_lifelong

MOVINGAI = data_dir() / "movingai"
SCEN = MOVINGAI / "random-32-32-10-random-1.scen"
METHODS = ["mapf-prioritized", "mapf-pibt", "mapf-lacam", "mapf-cbs", "mapf-cpsat"]


def test_methods_registered():
    names = {m.name for m in ncosolve.methods("mapf")}
    assert set(METHODS) <= names
    assert {m.name for m in ncosolve.methods("mapf-lifelong")} >= {"mapf-pibt"}


@pytest.mark.parametrize("method", METHODS)
def test_pocket_swap(method):
    inst = MAPFInstance(np.array([[0, 0, 0], [1, 0, 1]], dtype=bool), [(0, 0), (0, 2)], [(0, 2), (0, 0)])
    res = ncosolve.solve(inst, method, time_limit=1)
    if method == "mapf-prioritized":  # incomplete: whoever goes first blocks the other in every order
        assert res.solution is None and not res.feasible and res.runtime_s < 1.1 + 0.5
        return
    assert res.feasible
    if method in ("mapf-cbs", "mapf-cpsat"):
        assert res.cost == 7  # hand-checked optimum: one agent ducks into the pocket
    else:
        assert res.cost >= 7


@pytest.mark.parametrize("seed", range(6))
def test_cbs_and_cpsat_agree_on_optimal_soc(seed):
    inst = generate_mapf("random", 6, seed=seed, size=8, density=0.15)
    cbs = ncosolve.solve(inst, "mapf-cbs", time_limit=20)
    cp = ncosolve.solve(inst, "mapf-cpsat", time_limit=20)
    assert cbs.feasible and cp.feasible and cp.info["optimal"]
    assert cbs.cost == cp.cost
    for m in ("mapf-prioritized", "mapf-pibt", "mapf-lacam"):
        res = ncosolve.solve(inst, m, time_limit=5)
        if res.feasible:
            assert res.cost >= cbs.cost


@pytest.mark.parametrize("method", ["mapf-prioritized", "mapf-pibt", "mapf-lacam"])
def test_methods_on_movingai_scenario(method):
    inst = ncosolve.read_instance(SCEN, agents=60)
    res = ncosolve.solve(inst, method, time_limit=10)
    assert res.feasible and res.runtime_s < 1.1 * 10 + 0.5
    assert res.cost == evaluate_mapf(inst, res.solution)
    lower = sum(int(np.abs(s - g).sum()) for s, g in zip(inst.starts, inst.goals))  # Manhattan bound
    assert res.cost >= lower


def test_cbs_on_movingai_scenario_matches_cpsat():
    inst = ncosolve.read_instance(SCEN, agents=3)
    cbs = ncosolve.solve(inst, "mapf-cbs", time_limit=20)
    cp = ncosolve.solve(inst, "mapf-cpsat", time_limit=30)
    assert cbs.feasible and cp.feasible and cp.info["optimal"] and cbs.cost == cp.cost


def test_cbs_refuses_many_agents():
    inst = ncosolve.read_instance(SCEN, agents=11)
    res = ncosolve.solve(inst, "mapf-cbs", time_limit=1)
    assert not res.feasible and "at most 10" in res.info["reason"]


def test_cpsat_refuses_models_too_large_for_memory_at_once():
    inst = ncosolve.read_instance(SCEN, agents=30)  # ~360,000 cell literals: GBs of CP-SAT model
    start = time.perf_counter()
    res = ncosolve.solve(inst, "mapf-cpsat", time_limit=30)
    assert not res.feasible and "tiny instances" in res.info["reason"] and "cell literals" in res.info["reason"]
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("path,agents", [("random-32-32-10-random-1.scen", 400),
                                         ("warehouse-10-20-10-2-1.map", 1000)])
def test_lacam_and_pibt_scale(path, agents):
    inst = ncosolve.read_instance(MOVINGAI / path, agents=agents)
    ncosolve.solve(ncosolve.read_instance(SCEN, agents=5), "mapf-lacam")  # compile the numba kernels first
    for method in ("mapf-lacam", "mapf-pibt"):
        start = time.perf_counter()
        res = ncosolve.solve(inst, method, time_limit=10)
        assert res.feasible, (method, res.info)
        assert time.perf_counter() - start < 10


def test_lifelong_pibt_throughput():
    inst = generate_mapf_lifelong("random", 32, horizon=128, seed=0, size=20, density=0.2)
    res = ncosolve.solve(inst, "mapf-pibt")
    assert res.feasible and res.solution.shape == (32, 129, 2)
    assert res.cost == evaluate_mapf_lifelong(inst, res.solution) > 1.0


def test_time_limit_returns_none():
    inst = ncosolve.read_instance(SCEN, agents=10)
    res = ncosolve.solve(inst, "mapf-cbs", time_limit=1e-4)
    assert not res.feasible and res.solution is None


def test_lifelong_windowed_prioritized():
    inst = generate_mapf_lifelong("random", 32, horizon=128, seed=0, size=20, density=0.2)
    res = ncosolve.solve(inst, "mapf-prioritized", time_limit=20)
    assert res.feasible and res.solution.shape == (32, 129, 2)
    assert res.cost == evaluate_mapf_lifelong(inst, res.solution)
    assert res.info["pibt_fallback_steps"] < 128  # windows were planned, not only played by PIBT
    pibt = ncosolve.solve(inst, "mapf-pibt")
    assert res.cost > 0.8 * pibt.cost
    # past the time limit every remaining step is PIBT's, and the answer still covers the horizon
    quick = ncosolve.solve(inst, "mapf-prioritized", time_limit=1e-4)
    assert quick.feasible and quick.info["pibt_fallback_steps"] == 128
