"""LKH-3 on coordinates (issue 21): native edge-weight types, sparse candidate sets, no size limit, deadlines."""

from __future__ import annotations

import numpy as np
import pytest

import ncosolve

pytest.importorskip("elkai")

from ncosolve.baselines import lkh  # noqa: E402
from ncosolve.benchmarks import data_dir  # noqa: E402
from test_strong_baselines import checked, within_budget  # noqa: E402  (the shared result checks)




def _geo_instance(n: int, seed: int) -> ncosolve.TSPInstance:
    rng = np.random.default_rng(seed)
    degrees = rng.integers(-60, 60, size=(n, 2)).astype(float)
    minutes = rng.integers(0, 60, size=(n, 2)) / 100.0  # TSPLIB's DDD.MM
    return ncosolve.TSPInstance(coords=degrees + minutes, edge_weight_type="GEO")


@pytest.mark.parametrize("kind", ["GEO", "ATT", "CEIL_2D", "EXACT_2D", "TRUNC1_2D"])
def test_coordinate_path_matches_the_matrix_path(kind):
    # LKH measures the tour as evaluate() does (native types), and both ways in reach the same optimum
    rng = np.random.default_rng(3)
    if kind == "GEO":
        inst = _geo_instance(60, 3)
    elif kind == "ATT":
        inst = ncosolve.TSPInstance(coords=rng.integers(0, 8000, size=(60, 2)).astype(float), edge_weight_type="ATT")
    elif kind == "EXACT_2D":
        inst = ncosolve.TSPInstance(coords=rng.uniform(size=(60, 2)))
    else:
        inst = ncosolve.TSPInstance(coords=rng.uniform(0, 1000, size=(60, 2)), edge_weight_type=kind)
    result = ncosolve.solve(inst, "lkh", time_limit=3)
    cost = checked(inst, result)
    assert result.info["candidates"] == "alpha"
    if kind in ("GEO", "ATT", "CEIL_2D"):
        assert result.info["edge_weight_type"] == kind and result.info["exact_scaling"]
        assert result.info["objective_scaled"] == cost
    matrix = ncosolve.TSPInstance(dist=inst.distance_matrix())
    reference = checked(matrix, ncosolve.solve(matrix, "lkh", time_limit=3))
    assert cost == pytest.approx(reference, rel=1e-6)


def test_att_tsplib_file_near_its_optimum():
    # no ATT file ships beyond 3 nodes: pr76's coordinates measured as ATT, against the matrix path's optimum
    base = ncosolve.read_instance(data_dir() / "tsplib" / "pr76.tsp")
    inst = ncosolve.TSPInstance(coords=base.coords, edge_weight_type="ATT", name="pr76-att")
    matrix = ncosolve.TSPInstance(dist=inst.distance_matrix())
    cost = checked(inst, ncosolve.solve(inst, "lkh", time_limit=3))
    assert cost <= 1.001 * checked(matrix, ncosolve.solve(matrix, "lkh", time_limit=3))


def test_tsplib_instance_with_popmusic_reaches_near_the_optimum():
    inst = ncosolve.read_instance(data_dir() / "tsplib" / "pr2392.tsp")  # optimum 378032
    result = ncosolve.solve(inst, "lkh", time_limit=8, candidates="popmusic", runs=1)
    assert within_budget(result, 8), result.runtime_s
    assert result.info["candidates"] == "popmusic"
    assert checked(inst, result) <= 378032 * 1.02


def test_candidate_set_follows_size_and_budget():
    assert lkh.candidate_set(51, 10) == "alpha"
    assert lkh.candidate_set(1000, 10) == "alpha"
    assert lkh.candidate_set(5934, 59.34) == "popmusic"
    assert lkh.candidate_set(13509, 135.09) == "popmusic"
    assert lkh.candidate_set(20000, 200) == "delaunay"
    assert lkh.candidate_set(20000, 1) == "quadrant"


def test_bad_candidates_option():
    inst = ncosolve.TSPInstance(coords=np.random.default_rng(0).uniform(size=(10, 2)))
    with pytest.raises(ncosolve.NcoError, match="candidates must be one of"):
        ncosolve.solve(inst, "lkh", time_limit=1, candidates="nearest")


def test_large_coordinate_instances_are_not_refused_but_matrices_are():
    coords = np.random.default_rng(0).uniform(size=(lkh.MAX_NODES + 1, 2))
    result = ncosolve.solve(ncosolve.TSPInstance(coords=coords), "lkh", time_limit=3)
    assert within_budget(result, 3), result.runtime_s
    if result.feasible:
        checked(ncosolve.TSPInstance(coords=coords), result)
    else:  # a loaded CPU may not get through LKH's preprocessing in 3 s: then it says why
        assert result.info["status"]
    dist = np.ones((lkh.MAX_NODES + 1, lkh.MAX_NODES + 1))
    np.fill_diagonal(dist, 0)
    with pytest.raises(ncosolve.NcoError, match=f"above its limit of {lkh.MAX_NODES}"):
        ncosolve.solve(ncosolve.TSPInstance(dist=dist), "lkh", time_limit=1)


def test_killed_child_still_returns_the_tour_it_had_written(monkeypatch):
    # LKH's own limit is CPU time and is only checked between trials: the parent kills the child at the
    # deadline and takes the last complete tour from LKH's OUTPUT_TOUR_FILE
    inst = ncosolve.read_instance(data_dir() / "tsplib" / "u1060.tsp")
    real = lkh.run_lkh

    def never_stops(problem, runs, lkh_seed, finish_by, kill_at, extra_params="", n=None, files=None):
        return real(problem, 10**6, lkh_seed, finish_by + 1000.0, kill_at, extra_params, n, files)  # LKH never ends

    monkeypatch.setattr(lkh, "run_lkh", never_stops)
    result = ncosolve.solve(inst, "lkh", time_limit=6)
    assert within_budget(result, 6), result.runtime_s
    checked(inst, result)
    assert result.info["status"].startswith("stopped at the time limit")


def test_coordinate_input_building_past_the_budget_does_not_start_lkh(monkeypatch):
    import time
    real = lkh.coordinate_problem

    def slow(instance):
        time.sleep(0.05)
        return real(instance)

    monkeypatch.setattr(lkh, "coordinate_problem", slow)
    inst = ncosolve.read_instance(data_dir() / "tsplib" / "eil51.tsp")
    result = ncosolve.solve(inst, "lkh", time_limit=0.01)
    assert result.solution is None and "no time left" in result.info["status"]


@pytest.mark.slow
def test_rl5934_returns_a_feasible_tour_within_the_budget_rule():
    inst = ncosolve.read_instance(data_dir() / "tsplib" / "rl5934.tsp")  # optimum 556045
    t = max(10.0, 0.01 * inst.n)
    result = ncosolve.solve(inst, "lkh", time_limit=t)
    assert within_budget(result, t), result.runtime_s
    assert checked(inst, result) <= 556045 * 1.05


@pytest.mark.slow
def test_usa13509_within_the_budget_rule():
    inst = ncosolve.read_instance(data_dir() / "tsplib" / "usa13509.tsp")
    t = 0.01 * inst.n
    result = ncosolve.solve(inst, "lkh", time_limit=t)
    assert within_budget(result, t), result.runtime_s
    assert checked(inst, result) <= 19982859 * 1.05
