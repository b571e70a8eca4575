"""OR-Tools routing (cheapest-arc start, guided local search) for TSP, CVRP and CVRPTW.

Also home of the integer scaling the classical solvers share: OR-Tools, PyVRP and LKH work on integer
arc lengths, so distances (and times) are scaled by the instance's exact unit when it has one
(``integer_unit``: 1 for TSPLIB/CVRPLIB nint, 10 for Solomon's one decimal), else by the largest
factor that keeps every value below a solver-specific bound.
"""

from __future__ import annotations

import time

import numpy as np

from ncosolve.problems.distances import integer_unit
from ncosolve.registry import register

# Largest scaled value handed to OR-Tools / PyVRP (int64 arithmetic): big enough that rounding a
# continuous value moves it by under 1e-9 of the largest value, small enough that sums of thousands of
# arcs and the time horizon stay far from overflow.
MAX_INT64_VALUE = 10**9

_WHOLE_TOL = 1e-6


def _is_multiple(values: np.ndarray, unit: int) -> bool:
    """Whether every value is a whole number of 1/unit steps."""
    scaled = values * unit
    return bool(np.all(np.abs(scaled - np.rint(scaled)) <= _WHOLE_TOL))


def integer_scale(instance, max_value: float, times: tuple[np.ndarray, ...] = (),
                  continuous_max: float | None = None) -> tuple[float, bool]:
    """The factor turning the instance's distances (and ``times``) into integers, and whether it is exact.

    Exact when the edge-weight convention has an integer unit (or it is an explicit matrix of whole
    numbers, as most are), all ``times`` are multiples of that unit, and the largest scaled value stays
    within ``max_value``; otherwise the largest value is scaled to ``continuous_max`` (default
    ``max_value``).
    """
    values = [np.asarray(instance.distance_matrix(), dtype=np.float64)]
    values += [np.asarray(t, dtype=np.float64) for t in times]
    biggest = max(float(np.max(np.abs(v))) if v.size else 0.0 for v in values)
    unit = integer_unit(instance.edge_weight_type)
    if instance.edge_weight_type == "EXPLICIT" and all(_is_multiple(v, 1) for v in values):
        unit = 1
    if unit is not None and all(_is_multiple(v, unit) for v in values[1:]) and biggest * unit <= max_value:
        return float(unit), True
    target = max_value if continuous_max is None else continuous_max
    return (target / biggest if biggest > 0 else 1.0), False


def to_int(values, scale: float) -> np.ndarray:
    """``values * scale`` rounded to the nearest integer (int64)."""
    return np.rint(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)


def _round(values, scale: float, up: bool) -> np.ndarray:
    """``values * scale`` rounded up (or down) to int64, except float noise around whole numbers, which snaps."""
    scaled = np.asarray(values, dtype=np.float64) * scale
    near = np.rint(scaled)
    directed = np.ceil(scaled) if up else np.floor(scaled)
    return np.where(np.abs(scaled - near) <= _WHOLE_TOL, near, directed).astype(np.int64)


def scaled_times(instance, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer travel times (n, n), service times (n,) and windows (n, 2) of a CVRPTW, rounded safely.

    Travel and service round up, ready times up and due times down, so a schedule feasible in integers is
    feasible in the original units; with an exact scale nothing is rounded. The depot has no service.
    """
    travel = _round(instance.distance_matrix(), scale, up=True)
    service = _round(instance.service_times, scale, up=True)
    service[0] = 0
    windows = np.column_stack([_round(instance.time_windows[:, 0], scale, up=True),
                               _round(instance.time_windows[:, 1], scale, up=False)])
    return travel, service, windows


def integer_loads(demands: np.ndarray, capacity: float) -> tuple[np.ndarray, int]:
    """Integer demands and capacity such that every integer-feasible load is feasible in the original units.

    Whole-number data is used as is; fractional data is scaled (capacity to 1e9 steps) with demands
    rounded up, except those within float noise (1e-3 step) of a whole step, which are snapped.
    """
    demands = np.asarray(demands, dtype=np.float64)
    if _is_multiple(demands, 1) and _is_multiple(np.array([capacity]), 1) and capacity <= MAX_INT64_VALUE:
        return np.rint(demands).astype(np.int64), int(round(capacity))
    scale = MAX_INT64_VALUE / capacity
    scaled = demands * scale
    snapped = np.abs(scaled - np.rint(scaled)) <= 1e-3
    dem = np.where(snapped, np.rint(scaled), np.ceil(scaled)).astype(np.int64)
    return dem, MAX_INT64_VALUE


def fleet_bound(demands: np.ndarray, capacity: int) -> int:
    """Vehicles enough for a CVRP with an unlimited fleet: first-fit-decreasing bins plus 25% spare.

    First-fit decreasing packs the demands into that many vehicles, so a feasible solution exists; the
    spare vehicles let the search use more, shorter routes when that is cheaper.
    """
    loads: list[int] = []
    for d in sorted((int(x) for x in demands[1:]), reverse=True):
        for k, load in enumerate(loads):
            if load + d <= capacity:
                loads[k] += d
                break
        else:
            loads.append(d)
    return min(len(demands) - 1, len(loads) + max(2, len(loads) // 4))


def _build_model(instance, dist: np.ndarray, vehicles: int, scale: float):
    """The OR-Tools index manager and routing model with arc costs, capacity and time dimensions."""
    from ortools.constraint_solver import pywrapcp

    manager = pywrapcp.RoutingIndexManager(instance.n, vehicles, 0)
    routing = pywrapcp.RoutingModel(manager)
    arc = routing.RegisterTransitMatrix(dist.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    if instance.problem in ("cvrp", "cvrptw"):
        demands, capacity = integer_loads(instance.demands, instance.capacity)
        load = routing.RegisterUnaryTransitVector(demands.tolist())
        routing.AddDimension(load, 0, capacity, True, "Load")
    if instance.problem == "cvrptw":
        travel, service, windows = scaled_times(instance, scale)
        horizon = int(windows[0, 1])
        time_cb = routing.RegisterTransitMatrix((travel + service[:, None]).tolist())
        routing.AddDimension(time_cb, horizon, horizon, False, "Time")
        time_dim = routing.GetDimensionOrDie("Time")
        for node in range(1, instance.n):
            time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(int(windows[node, 0]), int(windows[node, 1]))
        for v in range(vehicles):
            time_dim.CumulVar(routing.Start(v)).SetRange(int(windows[0, 0]), horizon)
            time_dim.CumulVar(routing.End(v)).SetRange(int(windows[0, 0]), horizon)
    return manager, routing


def _read_routes(manager, routing, assignment, vehicles: int) -> list[list[int]]:
    """Each vehicle's visited nodes (depot excluded) from an OR-Tools assignment."""
    routes = []
    for v in range(vehicles):
        index = assignment.Value(routing.NextVar(routing.Start(v)))
        route = []
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = assignment.Value(routing.NextVar(index))
        routes.append(route)
    return routes


@register("ortools", ("tsp", "cvrp", "cvrptw"),
          "OR-Tools routing: path-cheapest-arc start, then guided local search until the time limit",
          default_time_limit=10.0, strength=20)
def ortools_solve(instance, time_limit: float, seed: int = 0):
    """Solve with OR-Tools routing within ``time_limit`` seconds; the objective is total distance.

    TSP uses one vehicle from node 0 (asymmetric matrices work as given); CVRP adds a load dimension with
    ``num_vehicles`` vehicles, or ``fleet_bound`` ones for an unlimited fleet; CVRPTW adds a time
    dimension (travel time = distance, service at each customer, waiting allowed, vehicles leave the
    depot no earlier than its ready time and return by its due time). OR-Tools' search is deterministic,
    so ``seed`` is not used (recorded as ``uses_seed: False``).
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    start = time.perf_counter()
    n = instance.n
    if instance.problem == "tsp" and n <= 2:
        return np.arange(n), {"status": "TRIVIAL", "uses_seed": False}
    times = (instance.time_windows, instance.service_times) if instance.problem == "cvrptw" else ()
    scale, exact = integer_scale(instance, MAX_INT64_VALUE, times)
    dist = to_int(instance.distance_matrix(), scale)
    if instance.problem == "tsp":
        vehicles = 1
    elif instance.num_vehicles is not None:
        vehicles = instance.num_vehicles
    elif instance.problem == "cvrp":
        vehicles = fleet_bound(*integer_loads(instance.demands, instance.capacity))
    else:
        vehicles = n - 1  # a vehicle per customer is always feasible (the instance checks it)
    manager, routing = _build_model(instance, dist, vehicles, scale)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    remaining = max(0.01, time_limit - (time.perf_counter() - start))
    params.time_limit.FromNanoseconds(int(remaining * 1e9))
    assignment = routing.SolveWithParameters(params)
    status = routing_enums_pb2.RoutingSearchStatus.Value.Name(routing.status())
    info = {"status": status, "scale": scale, "exact_scaling": exact, "vehicles": vehicles, "uses_seed": False}
    if assignment is None:
        return None, info
    info["objective_scaled"] = assignment.ObjectiveValue()
    routes = _read_routes(manager, routing, assignment, vehicles)
    if instance.problem == "tsp":
        return np.array([0] + routes[0], dtype=np.int64), info
    return [r for r in routes if r], info
