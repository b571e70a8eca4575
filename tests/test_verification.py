"""Verification: every installed method's Result on small random instances is feasible with ``cost == evaluate``,
within its budget; exact methods agree with brute force on tiny instances; adversarial instances of every
family are solved correctly or refused with an ``NcoError``.

Methods come from ``ncosolve.methods()``, so a newly registered method is checked on every problem it declares;
a problem kind without a small-instance factory here fails loudly rather than going unchecked."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ncosolve
from ncosolve.problems.mapf_generators import generate_mapf, generate_mapf_lifelong
from ncosolve.problems.network_generators import braess, dndp_instance, grid_city

T = 1.0
FEW = settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _instance(problem: str, size: int, seed: int):
    """A small random instance of ``problem`` (routing from ``generate``, MAPF on an 8x8 grid, DNDP on a 3x3 city)."""
    if problem in ("tsp", "cvrp", "cvrptw"):
        return ncosolve.generate(problem, 1, size, seed=seed)[0]
    if problem == "mapf":
        return generate_mapf("random", agents=3, seed=seed, size=8)
    if problem == "mapf-lifelong":
        return generate_mapf_lifelong("random", agents=3, horizon=16, seed=seed, size=8)
    if problem == "ndp":
        network, _ = grid_city(3, 3, seed=seed)
        return dndp_instance(network, num_candidates=4, seed=seed)
    pytest.fail(f"no small-instance factory for problem {problem!r}: add one to tests/test_verification.py")


def _routing_cost(instance, solution) -> float:
    """The objective recomputed here, not by ``evaluate``: every customer once, loads within capacity, and the
    sum of the closed walks' lengths from the dense distance matrix."""
    d = instance.distance_matrix()
    if instance.problem == "tsp":
        tour = [int(v) for v in solution]
        assert sorted(tour) == list(range(instance.n))
        return float(sum(d[a, b] for a, b in zip(tour, tour[1:] + tour[:1])))
    routes = [[int(c) for c in r] for r in solution]
    assert sorted(c for r in routes for c in r) == list(range(1, instance.n))
    assert all(sum(instance.demands[r]) <= instance.capacity + 1e-9 for r in routes)
    return float(sum(sum(d[a, b] for a, b in zip([0] + r, r + [0])) for r in routes))


def _solve_checked(instance, method: str, time_limit: float = T):
    """solve() within 1.1 T + 0.5 s of wall time besides its reported preparation, feasible, and (routing) a cost
    that this test recomputes itself; None when the method's optional dependency is not installed."""
    start = time.perf_counter()
    try:
        result = ncosolve.solve(instance, method, time_limit=time_limit, seed=0)
    except ncosolve.MissingDependency:
        return None
    elapsed = time.perf_counter() - start - result.info["prepare_s"]
    assert elapsed <= 1.1 * time_limit + 0.5, f"{method} took {elapsed:.2f} s for a {time_limit} s budget"
    assert result.feasible, result.info.get("infeasible_reason")
    if instance.problem in ("tsp", "cvrp", "cvrptw"):
        assert result.cost == pytest.approx(_routing_cost(instance, result.solution), rel=1e-9)
    return result


METHODS = [(p, m.name) for m in ncosolve.methods(available_only=True) for p in m.problems]


@pytest.mark.parametrize(("problem", "method"), METHODS, ids=[f"{p}-{m}" for p, m in METHODS])
@FEW
@given(size=st.integers(5, 12), seed=st.integers(0, 10_000))
def test_result_is_feasible_within_budget_with_its_true_cost(problem, method, size, seed):
    """Every installed method solves small random instances of each problem it lists: no refusal passes here.
    No warm-up first: compilation on first use must be in ``prepare_s``, outside the budget."""
    _solve_checked(_instance(problem, size, seed), method)


def _brute_force_tsp(inst) -> float:
    """Optimal tour length by enumerating the (n-1)! tours starting at node 0."""
    n = inst.n
    return min(ncosolve.evaluate(inst, [0, *perm]) for perm in itertools.permutations(range(1, n)))


@FEW
@given(n=st.integers(4, 8), seed=st.integers(0, 10_000))
def test_tsp_exact_methods_match_brute_force(n, seed):
    coords = np.random.default_rng(seed).integers(0, 100, size=(n, 2)).astype(float)
    inst = ncosolve.TSPInstance(coords=coords, edge_weight_type="EUC_2D")
    best = _brute_force_tsp(inst)
    for method in ("lkh", "ortools"):
        result = _solve_checked(inst, method)
        if result is not None:
            assert result.cost == best, method


@FEW
@given(seed=st.integers(0, 10_000))
def test_mapf_cpsat_matches_cbs(seed):
    inst = generate_mapf("random", agents=3, seed=seed, size=8)
    cpsat, cbs = _solve_checked(inst, "mapf-cpsat", 5.0), _solve_checked(inst, "mapf-cbs", 5.0)
    assert cpsat.cost == cbs.cost


def test_ndp_exact_matches_enumeration():
    network, _ = grid_city(3, 3, seed=1)
    inst = dndp_instance(network, num_candidates=4, seed=1)
    result = _solve_checked(inst, "ndp-exact", 30.0)
    assert result.cost == pytest.approx(_brute_force_ndp(inst), rel=1e-9)


def _adversarial():
    """(label, instance, whether every method must reach the brute-force optimum) for routing edge cases."""
    rng = np.random.default_rng(0)
    line = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    out = [
        ("tsp-n1", ncosolve.TSPInstance(coords=[[1.0, 2.0]]), True),
        ("tsp-n2", ncosolve.TSPInstance(coords=line[:2]), True),
        ("tsp-n3", ncosolve.TSPInstance(coords=line), True),
        ("tsp-duplicates", ncosolve.TSPInstance(coords=np.repeat(rng.uniform(0, 1, (3, 2)), 2, axis=0)), False),
        ("tsp-all-zero", ncosolve.TSPInstance(dist=np.zeros((6, 6))), True),
        ("tsp-1e9", ncosolve.TSPInstance(coords=rng.uniform(0, 1, (7, 2)) * 1e9, edge_weight_type="EUC_2D"), False),
        ("cvrp-n2", ncosolve.CVRPInstance(coords=line[:2], demands=[0, 1], capacity=1), True),
        ("cvrp-duplicates", ncosolve.CVRPInstance(coords=np.repeat(line, 2, axis=0), demands=[0, 1, 2, 1, 2, 1],
                                                  capacity=3), False),
        ("cvrp-all-zero", ncosolve.CVRPInstance(dist=np.zeros((5, 5)), demands=[0, 1, 1, 1, 1], capacity=2), True),
        ("cvrp-demand-eq-capacity", ncosolve.CVRPInstance(coords=rng.uniform(0, 100, (5, 2)), demands=[0, 7, 7, 7, 7],
                                                          capacity=7), True),
        ("cvrp-1e9", ncosolve.CVRPInstance(coords=rng.uniform(0, 1, (6, 2)) * 1e9, demands=[0, 1, 2, 3, 4, 5],
                                           capacity=8, edge_weight_type="EUC_2D"), False),
        ("cvrptw-n2", ncosolve.CVRPTWInstance(coords=line[:2], demands=[0, 1], capacity=1,
                                              time_windows=[[0, 100], [0, 100]]), True),
        ("cvrptw-demand-eq-capacity", ncosolve.CVRPTWInstance(coords=line, demands=[0, 5, 5], capacity=5,
                                                              time_windows=[[0, 100], [0, 100], [0, 100]]), True),
    ]
    open4 = np.zeros((4, 4), dtype=bool)
    corridor = np.zeros((1, 3), dtype=bool)
    out += [
        ("mapf-one-agent", ncosolve.MAPFInstance(open4, [[0, 0]], [[3, 3]]), False),
        ("mapf-at-goals", ncosolve.MAPFInstance(open4, [[0, 0], [2, 1]], [[0, 0], [2, 1]]), True),
        ("mapf-swap-in-corridor", ncosolve.MAPFInstance(corridor, [[0, 0], [0, 2]], [[0, 2], [0, 0]]), False),
        ("mapf-one-cell", ncosolve.MAPFInstance(np.zeros((1, 1), dtype=bool), [[0, 0]], [[0, 0]]), True),
        ("ndp-nothing-affordable", braess(with_shortcut=False), True),
        ("ndp-braess", braess(), False),
    ]
    return out


ADVERSARIAL = [pytest.param(label, inst, exact, m.name, id=f"{label}-{m.name}")
               for label, inst, exact in _adversarial() for m in ncosolve.methods(inst.problem, available_only=True)]


def _brute_force_vrp(inst) -> float:
    """Optimal cost of a tiny (C)VRP(TW): every solution is some customer order cut into consecutive routes."""
    customers = list(range(1, inst.n))
    best = np.inf
    for order in itertools.permutations(customers):
        for cuts in itertools.product((False, True), repeat=max(len(order) - 1, 0)):
            routes, route = [], [order[0]]
            for customer, cut in zip(order[1:], cuts):
                if cut:
                    routes.append(route)
                    route = []
                route.append(customer)
            try:
                best = min(best, ncosolve.evaluate(inst, [*routes, route]))
            except ncosolve.InfeasibleSolution:
                continue
    return best


def _optimum(inst) -> float:
    """Brute-force optimum of a tiny instance (MAPF: only where agents start on their goals)."""
    if inst.problem == "tsp":
        return _brute_force_tsp(inst) if inst.n > 1 else 0.0
    if inst.problem == "mapf":
        assert np.array_equal(inst.starts, inst.goals)
        return 0.0
    if inst.problem == "ndp":
        return _brute_force_ndp(inst)
    return _brute_force_vrp(inst)


def _brute_force_ndp(inst) -> float:
    """Lowest equilibrium TTT over every design (those over budget are infeasible)."""
    best = np.inf
    for design in itertools.product((0, 1), repeat=inst.num_candidates):
        try:
            best = min(best, ncosolve.evaluate(inst, np.array(design)))
        except ncosolve.InfeasibleSolution:
            continue
    return best


def _solve_or_report(inst, method: str):
    """solve() with Result.cost == evaluate() when feasible; None when refused (NcoError) or the method is
    unusable. Infeasible results are allowed here (instances without a solution). Only hangs are timed: a
    first call on a new network shape compiles jax inside the budget (budgets: test_budgets.py)."""
    start = time.perf_counter()
    try:
        result = ncosolve.solve(inst, method, time_limit=T, seed=0)
    except ncosolve.NcoError:
        return None  # refused clearly (MissingDependency included)
    elapsed = time.perf_counter() - start
    assert elapsed <= 30 * T, f"{method} took {elapsed:.2f} s for a {T} s budget"
    if result.feasible:
        if inst.problem in ("tsp", "cvrp", "cvrptw"):
            assert result.cost == pytest.approx(_routing_cost(inst, result.solution), rel=1e-9)
    else:
        assert result.cost == np.inf and result.info.get("infeasible_reason")
    return result


_UNSOLVABLE = {"mapf-swap-in-corridor"}  # no conflict-free paths exist


@pytest.mark.parametrize(("label", "inst", "exact", "method"), ADVERSARIAL)
def test_adversarial_instance_solved_or_refused(label, inst, exact, method):
    result = _solve_or_report(inst, method)
    if result is None:
        return
    if label in _UNSOLVABLE:
        assert not result.feasible
        return
    assert result.feasible, result.info.get("infeasible_reason")
    if exact:
        assert result.cost == pytest.approx(_optimum(inst), rel=1e-9, abs=1e-9)


def test_exact_mapf_methods_reach_the_single_agent_optimum():
    inst = ncosolve.MAPFInstance(np.zeros((4, 4), dtype=bool), [[0, 0]], [[3, 3]])
    for method in ("mapf-cbs", "mapf-cpsat"):
        result = _solve_checked(inst, method, 5.0)
        if result is not None:
            assert result.cost == 6, method


def test_disconnected_od_pair_is_refused_by_the_constructors():
    net_args = dict(num_nodes=3, capacity=[10.0] * 2, free_flow_time=[1.0] * 2, demand=np.array([[0, 5], [0, 0]]))
    with pytest.raises(ncosolve.InvalidInstance, match="no path"):
        ncosolve.Network(init=[0, 2], term=[2, 0], **net_args)  # zone 1 unreachable
    net = ncosolve.Network(init=[0, 2, 2, 1], term=[2, 0, 1, 0], **{**net_args, "capacity": [10.0] * 4,
                                                                      "free_flow_time": [1.0] * 4})
    with pytest.raises(ncosolve.InvalidInstance, match="no path"):  # reachable only through a closed candidate
        ncosolve.NDPInstance(network=net, variant="dndp", candidate_links=np.array([[2, -1]]),
                             candidate_cost=[1.0], budget=1.0)


def test_unreachable_mapf_goal_is_refused_by_the_constructor():
    wall = np.array([[False, True, False]])
    with pytest.raises(ncosolve.InvalidInstance, match="cannot reach"):
        ncosolve.MAPFInstance(wall, [[0, 0]], [[0, 2]])


@FEW
@given(customers=st.integers(2, 5), seed=st.integers(0, 10_000))
def test_vrp_solvers_match_brute_force_on_tiny_cvrp(customers, seed):
    rng = np.random.default_rng(seed)
    demands = [0, *rng.integers(1, 6, size=customers)]
    inst = ncosolve.CVRPInstance(coords=rng.integers(0, 100, size=(customers + 1, 2)).astype(float), demands=demands,
                                 capacity=8, edge_weight_type="EUC_2D")
    best = _brute_force_vrp(inst)
    for method in ("ortools", "pyvrp"):
        result = _solve_checked(inst, method)
        if result is not None:
            assert result.cost == best, method


def test_pyvrp_at_coordinates_1e9_is_within_its_scaling_bound():
    """Regression: exact integer distances of ~1e9 dwarfed PyVRP's capped load penalty (1e5 per unit), so it
    returned no feasible solution; now distances are scaled to 1e5 units, costing at most 0.5 unit per arc."""
    pytest.importorskip("pyvrp")
    rng = np.random.default_rng(3)
    inst = ncosolve.CVRPInstance(coords=rng.uniform(0, 1, (6, 2)) * 1e9, demands=[0, 1, 2, 3, 4, 5], capacity=8,
                                 edge_weight_type="EUC_2D")
    result = _solve_checked(inst, "pyvrp")
    scale = result.info["scale"]
    assert not result.info["exact_scaling"] and scale * inst.distance_matrix().max() <= 1e5 + 1
    arcs = 2 * (inst.n - 1)
    assert result.cost <= _brute_force_vrp(inst) + arcs / scale
