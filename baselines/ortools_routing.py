"""OR-Tools routing (cheapest-arc start, guided local search) for TSP, CVRP and CVRPTW."""

from __future__ import annotations

import time

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from ncosolve.baselines.scaling import MAX_INT64_VALUE, integer_loads, integer_scale, scaled_times, to_int


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


def ortools_solve(instance, time_limit: float, seed: int = 0):
    """Solve with OR-Tools routing within ``time_limit`` seconds; the objective is total distance.

    TSP uses one vehicle from node 0 (asymmetric matrices work as given); CVRP adds a load dimension with
    ``num_vehicles`` vehicles, or ``fleet_bound`` ones for an unlimited fleet; CVRPTW adds a time
    dimension (travel time = distance, service at each customer, waiting allowed, vehicles leave the
    depot no earlier than its ready time and return by its due time). OR-Tools' search is deterministic,
    so ``seed`` is not used (recorded as ``uses_seed: False``).
    """

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
