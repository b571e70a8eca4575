"""The strong classical baselines (OR-Tools, PyVRP, LKH-3): known optima, exact scaling, budgets, extras."""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ncosolve
from ncosolve.baselines.lkh import MAX_NODES
from ncosolve.baselines.scaling import integer_loads, integer_scale, scaled_times
from ncosolve.benchmarks import data_dir


def within_budget(result, time_limit: float) -> bool:
    return result.runtime_s <= 1.1 * time_limit + 0.5


def checked(instance, result) -> float:
    """The result's cost, after asserting that it is feasible and agrees with a fresh ``evaluate``."""
    assert result.feasible, result.info
    assert ncosolve.evaluate(instance, result.solution) == result.cost
    return result.cost


def brute_force_tsp(instance) -> float:
    n = instance.n
    return min(ncosolve.evaluate(instance, (0,) + p) for p in itertools.permutations(range(1, n)))


# --- integer scaling -------------------------------------------------------------------------------

def test_scale_is_the_exact_unit_of_each_convention(eil51, a_n32_k5, c101):
    assert integer_scale(eil51, 1e9) == (1.0, True)
    assert integer_scale(a_n32_k5, 1e9) == (1.0, True)
    assert integer_scale(c101, 1e9, (c101.time_windows, c101.service_times)) == (10.0, True)


def test_whole_number_matrix_is_exact_and_continuous_fills_the_range():
    rng = np.random.default_rng(0)
    dist = rng.integers(1, 50, size=(6, 6)).astype(float)
    np.fill_diagonal(dist, 0)
    assert integer_scale(ncosolve.TSPInstance(dist=dist), 1e9) == (1.0, True)
    inst = ncosolve.TSPInstance(coords=rng.uniform(size=(20, 2)))
    scale, exact = integer_scale(inst, 1e6)
    assert not exact
    assert np.max(inst.distance_matrix()) * scale == pytest.approx(1e6)
    # an exact unit whose values would overflow the bound falls back to scaling
    assert integer_scale(ncosolve.TSPInstance(dist=dist * 1e7), 1e6)[1] is False


def test_fractional_loads_round_so_integer_feasible_means_feasible():
    demands = np.array([0.0, 0.075, 0.1, 0.3333333, 0.2, 1.0])
    dem, cap = integer_loads(demands, 1.0)
    assert np.all(dem[1:] / cap >= demands[1:] - 1e-12)
    assert dem[-1] == cap  # a demand equal to the capacity still fits
    dem, cap = integer_loads(np.array([0.0, 3.0, 7.0]), 10.0)
    assert dem.tolist() == [0, 3, 7] and cap == 10


def test_scaled_times_never_make_a_schedule_look_earlier():
    inst = ncosolve.generate("cvrptw", 1, 30, seed=3)[0]
    scale, exact = integer_scale(inst, 1e5, (inst.time_windows, inst.service_times))
    travel, service, windows = scaled_times(inst, scale)
    assert not exact
    assert np.all(travel >= inst.distance_matrix() * scale - 1e-6)
    assert np.all(service[1:] >= inst.service_times[1:] * scale - 1e-6)
    assert np.all(windows[:, 0] >= inst.time_windows[:, 0] * scale - 1e-6)
    assert np.all(windows[:, 1] <= inst.time_windows[:, 1] * scale + 1e-6)


def test_scaled_times_are_exact_for_solomon(c101):
    travel, service, windows = scaled_times(c101, 10.0)
    assert np.array_equal(travel, np.rint(c101.distance_matrix() * 10))
    assert np.array_equal(windows, c101.time_windows * 10)
    assert np.array_equal(service[1:], c101.service_times[1:] * 10)


# --- LKH-3 -----------------------------------------------------------------------------------------

def test_lkh_finds_the_eil51_optimum(eil51):
    result = ncosolve.solve(eil51, "lkh", time_limit=5)
    assert checked(eil51, result) == 426
    assert result.solution[0] == 0
    assert result.info["exact_scaling"]


def test_lkh_is_reproducible_for_a_seed(eil51):
    first = ncosolve.solve(eil51, "lkh", time_limit=5, seed=7, runs=2)
    second = ncosolve.solve(eil51, "lkh", time_limit=5, seed=7, runs=2)
    assert np.array_equal(first.solution, second.solution)
    assert first.info["lkh_seed"] == 8


@pytest.mark.parametrize("method", ["lkh", "ortools"])
@pytest.mark.parametrize("seed", [0, 1])
def test_asymmetric_tsp_matches_brute_force(method, seed):
    rng = np.random.default_rng(seed)
    for dist in (rng.integers(1, 100, size=(8, 8)).astype(float), rng.uniform(0.0, 1.0, size=(8, 8))):
        np.fill_diagonal(dist, 0)
        inst = ncosolve.TSPInstance(dist=dist)
        assert not inst.symmetric
        result = ncosolve.solve(inst, method, time_limit=0.3)
        assert checked(inst, result) == pytest.approx(brute_force_tsp(inst), rel=1e-9)


@pytest.mark.parametrize("method", ["lkh", "ortools"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_tsp(method, n):
    dist = np.array([[0, 1, 2], [3, 0, 5], [6, 9, 0]], dtype=float)[:n, :n]
    inst = ncosolve.TSPInstance(dist=dist)
    assert checked(inst, ncosolve.solve(inst, method, time_limit=0.2)) == brute_force_tsp(inst)


def test_lkh_refuses_matrix_instances_above_its_limit():
    # coordinate instances have no limit (tests/test_lkh_scaling.py); a matrix is sent to LKH dense
    dist = np.ones((MAX_NODES + 1, MAX_NODES + 1))
    np.fill_diagonal(dist, 0)
    with pytest.raises(ncosolve.NcoError, match=f"above its limit of {MAX_NODES}"):
        ncosolve.solve(ncosolve.TSPInstance(dist=dist), "lkh", time_limit=1)


def test_lkh_rejects_bad_runs(eil51):
    with pytest.raises(ncosolve.NcoError, match="runs must be a positive integer"):
        ncosolve.solve(eil51, "lkh", time_limit=1, runs=0)


def test_lkh_is_stopped_when_its_preprocessing_overruns():
    # LKH's preprocessing of a 3000-node matrix takes seconds and ignores the limit: the child must be killed.
    coords = ncosolve.TSPInstance(coords=np.random.default_rng(1).uniform(size=(3000, 2)))
    inst = ncosolve.TSPInstance(dist=coords.distance_matrix())
    inst.distance_matrix()  # built before the clock, so the budget goes to LKH's child (building it takes ~0.2-0.8 s)
    result = ncosolve.solve(inst, "lkh", time_limit=0.5)
    assert within_budget(result, 0.5), result.runtime_s
    assert result.solution is None and not result.feasible
    assert "preprocessing" in result.info["status"]


def test_lkh_does_not_start_when_building_the_matrix_used_the_budget(eil51, monkeypatch):
    # a matrix build slower than the budget, made so on purpose: timing a real large build flaked under load
    import time

    from ncosolve.baselines import lkh

    real_to_int = lkh.to_int

    def slow_to_int(*args):
        time.sleep(0.05)
        return real_to_int(*args)

    monkeypatch.setattr(lkh, "to_int", slow_to_int)
    result = ncosolve.solve(ncosolve.TSPInstance(dist=eil51.distance_matrix()), "lkh", time_limit=0.01)
    assert result.solution is None and "no time left" in result.info["status"]
    assert within_budget(result, 0.01), result.runtime_s


def test_lkh_child_printing_a_short_tour_is_no_tour(eil51, monkeypatch):
    # an LKH child that answers with an empty line (seen once under heavy load) must not crash the method
    from ncosolve.baselines import lkh
    monkeypatch.setattr(lkh, "_WORKER", "import sys; print('ready', flush=True); sys.stdin.buffer.read(); print()")
    monkeypatch.setattr(lkh, "_SPARE", [])  # no child started earlier with the real worker
    result = ncosolve.solve(eil51, "lkh", time_limit=2)
    assert result.solution is None and not result.feasible
    assert result.info["status"] == "LKH returned 0 of 51 cities"


# --- OR-Tools --------------------------------------------------------------------------------------

def test_ortools_tsp_near_optimal(eil51):
    result = ncosolve.solve(eil51, "ortools", time_limit=3)
    assert checked(eil51, result) <= 426 * 1.02  # guided local search: within 2% of the optimum in 3 s
    assert result.info["status"] == "ROUTING_SUCCESS" and result.info["uses_seed"] is False


def test_ortools_cvrp_reaches_the_a_n32_k5_optimum(a_n32_k5):
    result = ncosolve.solve(a_n32_k5, "ortools", time_limit=5)  # 2 s gave 796 on a slower (shared) CPU
    assert checked(a_n32_k5, result) <= 784 * 1.01
    assert result.info["vehicles"] >= len(result.solution)


def test_ortools_respects_a_fixed_fleet(a_n32_k5):
    five = dataclasses.replace(a_n32_k5, num_vehicles=5)
    result = ncosolve.solve(five, "ortools", time_limit=2)
    assert checked(five, result) <= 784 * 1.01
    assert result.info["vehicles"] == 5


def test_ortools_cvrptw_reaches_c101(c101):
    result = ncosolve.solve(c101, "ortools", time_limit=2)
    assert checked(c101, result) == pytest.approx(827.3)
    assert result.info["scale"] == 10.0


# --- PyVRP -----------------------------------------------------------------------------------------

def test_pyvrp_reaches_the_a_n32_k5_optimum(a_n32_k5):
    assert checked(a_n32_k5, ncosolve.solve(a_n32_k5, "pyvrp", time_limit=2)) == 784


def test_pyvrp_reaches_the_c101_optimum(c101):
    result = ncosolve.solve(c101, "pyvrp", time_limit=2)
    assert checked(c101, result) == pytest.approx(827.3)
    assert len(result.solution) <= c101.num_vehicles


def test_pyvrp_r201_close_to_best_known():
    r201 = ncosolve.read_instance(data_dir() / "solomon" / "R201.vrp")
    assert checked(r201, ncosolve.solve(r201, "pyvrp", time_limit=3)) <= 1143.2 * 1.02


# --- both VRP solvers on continuous data -----------------------------------------------------------

@pytest.mark.parametrize("method", ["ortools", "pyvrp"])
def test_vrp_solvers_on_continuous_and_fractional_data(method):
    cvrp = ncosolve.generate("cvrp", 1, 50, seed=0)[0]
    normalised = dataclasses.replace(cvrp, demands=cvrp.demands / cvrp.capacity, capacity=1.0)
    plain, fractional = (ncosolve.solve(i, method, time_limit=1) for i in (cvrp, normalised))
    checked(cvrp, plain)
    checked(normalised, fractional)
    assert fractional.info["exact_scaling"] is False
    tw = ncosolve.generate("cvrptw", 1, 50, seed=0, distribution="clustered")[0]
    checked(tw, ncosolve.solve(tw, method, time_limit=1))


# --- budgets and optional dependencies -------------------------------------------------------------

@pytest.mark.parametrize("method, suite, name", [
    ("ortools", "tsplib-1000", "rat783"),
    ("lkh", "tsplib-1000", "rat783"),
    ("ortools", "cvrplib-X", "X-n979-k58"),
    ("pyvrp", "cvrplib-X", "X-n979-k58"),
    ("ortools", "solomon-R2", "R201"),
])
def test_time_limit_is_honoured(method, suite, name):
    inst = next(i for i in ncosolve.load_benchmark(suite) if i.name == name)
    result = ncosolve.solve(inst, method, time_limit=1.0)
    assert within_budget(result, 1.0), result.runtime_s
    if method == "lkh" and result.solution is None:  # on a slow or loaded CPU LKH's preprocessing needs > 1 s:
        assert result.info["status"]  # no tour, and it says why (test_lkh_finds_the_eil51_optimum checks quality)
        return
    checked(inst, result)


@pytest.mark.parametrize("method, module, extra", [("lkh", "elkai", "lkh"), ("pyvrp", "pyvrp", "pyvrp")])
def test_missing_dependency_names_the_extra(monkeypatch, eil51, a_n32_k5, method, module, extra):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    inst = eil51 if method == "lkh" else a_n32_k5
    with pytest.raises(ncosolve.MissingDependency, match=rf"ncosolve\[{extra}\]"):
        ncosolve.solve(inst, method, time_limit=1)
    assert method not in [m.name for m in ncosolve.methods(available_only=True)]


def test_benchmark_script_smoke(tmp_path):
    script = Path(__file__).parents[1] / "benchmarks" / "routing_baselines.py"
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(script), "--methods", "lkh", "--max-instances", "2",
                           "--time-limit", "1", "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    (cell,) = report["summary"]
    assert (cell["method"], cell["suite"], cell["instances"]) == ("lkh", "tsplib-1000", 2)
    assert cell["passed"] and cell["mean_gap_pct"] == 0.0
    assert [r["instance"] for r in report["instances"]] == ["a280", "berlin52"]
