"""Budgets under load (issue 8): with two extra processes spinning the CPU, methods stop within 1.1 T + 0.5 s.

A small sample of ``benchmarks/reliability.py --budgets`` (which runs every method on every family): the
methods here need no numba or jax compilation, and each gets one untimed call first.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import ncosolve

_SPEC = importlib.util.spec_from_file_location(
    "reliability", Path(__file__).resolve().parents[1] / "benchmarks" / "reliability.py")
reliability = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(reliability)

CASES = {label: (problem, load) for label, problem, load in reliability.BUDGET_CASES}
SAMPLE = [("ortools", "eil51"), ("lkh", "eil51"), ("pyvrp", "R201"), ("pyvrp", "X-n979-k58"),
          ("ortools", "X-n979-k58"), ("attention", "X-n101-k25"), ("attention", "X-n979-k58"),
          ("attention-sample", "eil51"),
          ("mapf-prioritized", "warehouse-a20")]


@pytest.fixture(scope="module")
def busy():
    """Both cores of a 2-core machine busy for the module's tests."""
    with reliability.cpu_burners(2) as procs:
        yield procs


@pytest.mark.parametrize(("method", "label"), SAMPLE, ids=[f"{m}-{c}" for m, c in SAMPLE])
def test_method_stops_within_its_budget_under_load(busy, method, label):
    spec = ncosolve.catalog.get_method(method)
    if not spec.available:
        pytest.skip(f"{method}: optional dependency not installed")
    assert all(proc.poll() is None for proc in busy), "the CPU burners died"
    instance = CASES[label][1]()
    reliability.timed_solve(instance, method, 1.0)  # a first call too: its preparation is reported, not budgeted
    run = reliability.timed_solve(instance, method, 1.0)
    assert run["status"] != "refused", run["note"]
    assert reliability.within_budget(run["wall_s"], 1.0), f"{method} on {label}: {run['wall_s']:.2f} s for 1 s"


def test_burners_stop_with_the_block():
    with reliability.cpu_burners(1) as procs:
        assert procs[0].poll() is None
    assert procs[0].poll() is not None


def test_a_passed_cutoff_still_returns_complete_solutions():
    """Past the cutoff, a rollout finishes the shortest partial trajectory by nearest feasible node (no network)."""
    from ncosolve.policies.batch import from_instances
    from ncosolve.policies.decode import rollout, to_solution
    from ncosolve.policies.methods import _policy

    instances = [ncosolve.generate("cvrp", 1, 30, seed=1)[0], ncosolve.generate("tsp", 1, 30, seed=1)[0]]
    for inst in instances:
        policy, _ = _policy(inst, None)
        batch = from_instances([inst])
        length, actions, _ = rollout(policy, batch, True, False, policy.encode(batch), deadline=0.0)
        assert length.shape == (1, 1)
        solution = to_solution(inst.problem, actions[0, 0].numpy())
        assert ncosolve.evaluate(inst, solution) == pytest.approx(float(length[0, 0]))


def test_an_encoder_that_would_overrun_is_not_run():
    """An encoding predicted to end past the cutoff is given up; the methods then build without the network."""
    from ncosolve.policies.decode import Decoding, decode
    from ncosolve.policies.methods import _policy

    inst = ncosolve.generate("tsp", 1, 300, seed=2)[0]
    policy, _ = _policy(inst, None)
    solutions, lengths = decode(policy, [inst], Decoding(augment=2), deadline=0.0, cutoff=0.0)
    assert solutions == [None] and lengths[0] == float("inf")
    for method in ("attention", "attention-sample", "attention+2opt"):
        result = ncosolve.solve(inst, method=method, time_limit=0.001)
        assert result.feasible and result.info["fallback"].startswith("nearest neighbour")
