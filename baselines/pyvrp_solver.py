"""PyVRP (iterated local search, 0.14 API) for CVRP and CVRPTW, within a wall-clock deadline."""

from __future__ import annotations

import time

import numpy as np
from pyvrp import (ActivityType, Client, Depot, Location, PenaltyManager, ProblemData, RandomNumberGenerator, Solution,
                   SolveParams, VehicleType)
from pyvrp.IteratedLocalSearch import IteratedLocalSearch
from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours

from ncosolve.baselines.scaling import integer_loads, integer_scale, scaled_times, to_int

# Scaled distances and times never exceed this many units, exact scaling included. PyVRP's penalty for a
# unit of excess load is capped (PenaltyParams.max_penalty = 1e5), so with longer edges an overloaded route
# looks cheaper than a feasible one: at coordinates around 1e9 (exact TSPLIB-style integers) PyVRP returned
# no feasible solution at all. Data beyond the bound is scaled so the longest edge or time is 1e5 units:
# each arc is then off by at most 0.5 unit, so PyVRP ranks solutions up to (arcs) * 0.5e-5 * longest value
# apart wrongly; the cost reported is evaluate()'s on the original data.
PYVRP_MAX_VALUE = 10**5


def build_problem_data(instance, scale: float):
    """The instance as ``pyvrp.ProblemData``: depot = location 0, client k = customer k + 1.

    Distances are the scaled integer distance matrix; durations (travel time = distance), service
    durations, time windows and the depot's opening hours (also the vehicles' shift) come from
    ``scaled_times``, rounded so that PyVRP-feasible schedules are feasible. The fleet is
    ``num_vehicles``, or one vehicle per customer for an unlimited fleet.
    """

    n = instance.n
    dist = to_int(instance.distance_matrix(), scale)
    demands, capacity = integer_loads(instance.demands, instance.capacity)
    coords = instance.coords if instance.coords is not None else np.zeros((n, 2))
    locations = [Location(float(x), float(y)) for x, y in coords]
    fleet = instance.num_vehicles if instance.num_vehicles is not None else n - 1
    durations = dist
    if instance.problem == "cvrptw":
        durations, service, windows = scaled_times(instance, scale)
        clients = [Client(location=k, delivery=[int(demands[k])], service_duration=int(service[k]),
                          tw_early=int(windows[k, 0]), tw_late=int(windows[k, 1])) for k in range(1, n)]
        depot = Depot(location=0, tw_early=int(windows[0, 0]), tw_late=int(windows[0, 1]))
        vehicle = VehicleType(fleet, capacity=[capacity], tw_early=int(windows[0, 0]), tw_late=int(windows[0, 1]))
    else:
        clients = [Client(location=k, delivery=[int(demands[k])]) for k in range(1, n)]
        depot = Depot(location=0)
        vehicle = VehicleType(fleet, capacity=[capacity])
    return ProblemData(locations, clients, [depot], [vehicle], [dist], [durations])


def scaled_problem_data(instance):
    """``(ProblemData, scale, exact)``: the instance at the integer scale of ``integer_scale`` (times included
    for CVRPTW), bounded by ``PYVRP_MAX_VALUE``."""
    times = (instance.time_windows, instance.service_times) if instance.problem == "cvrptw" else ()
    scale, exact = integer_scale(instance, PYVRP_MAX_VALUE, times)
    return build_problem_data(instance, scale), scale, exact


def routes_from_solution(solution) -> list[list[int]]:
    """Our routes (customer indices, depot implied) from a PyVRP solution built by ``build_problem_data``."""

    return [[a.idx + 1 for a in route if a.type == ActivityType.CLIENT] for route in solution.routes()]


class _DeadlineSearch:
    """PyVRP's local search, whose exhaustive passes (uninterruptible C++ calls) are cut to the limited search
    around perturbed clients once the time left is shorter than the longest exhaustive pass so far.

    Without this, an exhaustive pass started just before the deadline overran a 2 s budget by 1.7 s on
    X-n979-k58 with both cores busy.
    """

    def __init__(self, ls, deadline: float, longest: float):
        self.ls, self.deadline, self.longest = ls, deadline, longest

    def __call__(self, solution, cost_evaluator, exhaustive: bool = False):
        start = time.perf_counter()
        exhaustive = exhaustive and start + self.longest < self.deadline
        out = self.ls(solution, cost_evaluator, exhaustive)
        if exhaustive:
            self.longest = max(self.longest, time.perf_counter() - start)
        return out


def _initial_solution(instance, data, search: _DeadlineSearch, rng, cost_evaluator):
    """PyVRP's own start (a random solution improved by an exhaustive search) when that fits the time left,
    else our nearest-neighbour routes (a fraction of a second at n = 1000)."""
    from ncosolve.baselines.constructive import nearest_neighbor_routes

    if time.perf_counter() + search.longest < search.deadline:
        return search(Solution.make_random(data, rng), cost_evaluator, exhaustive=True)
    routes = nearest_neighbor_routes(instance)
    if len(routes) > data.num_vehicles:  # PyVRP refuses more routes than vehicles
        return Solution.make_random(data, rng)
    return Solution(data, [[c - 1 for c in route] for route in routes])


def pyvrp_solve(instance, time_limit: float, seed: int = 0):
    """Solve with PyVRP's iterated local search within ``time_limit`` seconds, seeded; the objective is total
    distance.

    This is ``pyvrp.solve`` with default parameters, assembled here so that the deadline also bounds the
    start and the exhaustive passes (``_DeadlineSearch``): before the first exhaustive pass is measured, one
    is assumed to take 1 ms per client. Returns the best feasible solution found, or None (with
    ``info["status"]``) when PyVRP found none.
    """

    start = time.perf_counter()
    deadline = start + time_limit
    data, scale, exact = scaled_problem_data(instance)
    params = SolveParams()
    rng = RandomNumberGenerator(seed=seed)
    ls = LocalSearch(data, rng, compute_neighbours(data, params.neighbourhood),
                     PerturbationManager(params.perturbation))
    for op in params.operators:
        if op.supports(data):
            ls.add_operator(op(data))
    pm = PenaltyManager(params.penalty.midpoint_penalties(data), params.penalty)
    search = _DeadlineSearch(ls, deadline, longest=1e-3 * data.num_clients)
    init = _initial_solution(instance, data, search, rng, pm.max_cost_evaluator())
    ils = IteratedLocalSearch(data, pm, search, init, params.ils)
    result = ils.run(lambda _best_cost: time.perf_counter() >= deadline, collect_stats=False)
    info = {"scale": scale, "exact_scaling": exact, "iterations": result.num_iterations,
            "vehicles": data.num_vehicles}
    if not result.is_feasible():
        info["status"] = "no feasible solution found"
        return None, info
    info["status"] = "feasible"
    info["objective_scaled"] = int(result.cost())
    return routes_from_solution(result.best), info


class BetweenRoutes:
    """One descent of PyVRP's local search with moves between routes only of the 2-opt family: relocate a
    customer (``Relocate1``), swap two (``Swap11``) and exchange route tails (``SwapTails``, 2-opt*), from
    given routes to a local optimum; no perturbation, so it polishes rather than searches.

    Built once per instance (the ``ProblemData`` and the neighbour lists), then called on many solutions.
    Infeasibility is priced at PyVRP's largest penalties, so a feasible start stays feasible. A descent is
    one uninterruptible C++ call: ``__call__`` skips it when the time left is shorter than the longest so
    far (1 ms per customer assumed before the first).
    """

    OPERATORS = ("Relocate1", "Swap11", "SwapTails")

    def __init__(self, instance, seed: int = 0):
        import pyvrp.search

        self.data = scaled_problem_data(instance)[0]
        params = SolveParams()
        self.ls = LocalSearch(self.data, RandomNumberGenerator(seed=seed),
                              compute_neighbours(self.data, params.neighbourhood))
        for name in self.OPERATORS:
            self.ls.add_operator(getattr(pyvrp.search, name)(self.data))
        self.costs = PenaltyManager(params.penalty.midpoint_penalties(self.data), params.penalty).max_cost_evaluator()
        self.assumed, self.longest = 1e-3 * self.data.num_clients, 0.0

    def __call__(self, routes: list[list[int]], deadline: float | None = None) -> list[list[int]] | None:
        """The routes after the descent, or None when it was skipped (too little time left, or more routes
        than the fleet has vehicles, which PyVRP cannot represent)."""
        start = time.perf_counter()
        routes = [r for r in routes if r]
        expected = self.longest or self.assumed
        if (deadline is not None and start + expected > deadline) or len(routes) > self.data.num_vehicles:
            return None
        out = self.ls(Solution(self.data, [[c - 1 for c in r] for r in routes]), self.costs, exhaustive=True)
        self.longest = max(self.longest, time.perf_counter() - start)
        return routes_from_solution(out)
