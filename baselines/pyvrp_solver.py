"""PyVRP (hybrid genetic search / iterated local search, 0.14 API) for CVRP and CVRPTW."""

from __future__ import annotations

import time

import numpy as np

from ncosolve.baselines.scaling import MAX_INT64_VALUE, integer_loads, integer_scale, scaled_times, to_int
from ncosolve.registry import register

# Continuous distances are scaled so the longest edge is this many units. PyVRP's penalties for excess
# load and lateness are capped (PenaltyParams.max_penalty = 1e5 per unit), so much larger distance units
# would make infeasible solutions look cheap; 1e5 still resolves lengths to 1e-5 of the longest edge.
PYVRP_CONTINUOUS_MAX = 10**5


def build_problem_data(instance, scale: float):
    """The instance as ``pyvrp.ProblemData``: depot = location 0, client k = customer k + 1.

    Distances are the scaled integer distance matrix; durations (travel time = distance), service
    durations, time windows and the depot's opening hours (also the vehicles' shift) come from
    ``scaled_times``, rounded so that PyVRP-feasible schedules are feasible. The fleet is
    ``num_vehicles``, or one vehicle per customer for an unlimited fleet.
    """
    from pyvrp import Client, Depot, Location, ProblemData, VehicleType

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


def routes_from_solution(solution) -> list[list[int]]:
    """Our routes (customer indices, depot implied) from a PyVRP solution built by ``build_problem_data``."""
    from pyvrp import ActivityType

    return [[a.idx + 1 for a in route if a.type == ActivityType.CLIENT] for route in solution.routes()]


@register("pyvrp", ("cvrp", "cvrptw"),
          "PyVRP iterated local search (state of the art for CVRP/VRPTW) until the time limit",
          requires=("pyvrp",), extra="pyvrp", default_time_limit=10.0, strength=30)
def pyvrp_solve(instance, time_limit: float, seed: int = 0):
    """Solve with PyVRP within ``time_limit`` seconds, seeded; the objective is total distance.

    Returns the best feasible solution found, or None (with ``info["status"]``) when PyVRP found none.
    """
    import pyvrp
    from pyvrp.stop import MaxRuntime

    start = time.perf_counter()
    times = (instance.time_windows, instance.service_times) if instance.problem == "cvrptw" else ()
    scale, exact = integer_scale(instance, MAX_INT64_VALUE, times, continuous_max=PYVRP_CONTINUOUS_MAX)
    data = build_problem_data(instance, scale)
    remaining = max(0.01, time_limit - (time.perf_counter() - start))
    result = pyvrp.solve(data, stop=MaxRuntime(remaining), seed=seed, collect_stats=False, display=False)
    info = {"scale": scale, "exact_scaling": exact, "iterations": result.num_iterations,
            "vehicles": data.num_vehicles}
    if not result.is_feasible():
        info["status"] = "no feasible solution found"
        return None, info
    info["status"] = "feasible"
    info["objective_scaled"] = int(result.cost())
    return routes_from_solution(result.best), info
