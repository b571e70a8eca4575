"""Capacitated vehicle routing, with and without time windows. Node 0 is the depot."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ncosolve.errors import InfeasibleSolution, InvalidInstance
from ncosolve.problems._validate import float_array, whole_number
from ncosolve.problems.geometry import Geometry, init_geometry

# The evaluator's tolerances, imported by everything that must agree with it (envs, policies, baselines).
LOAD_TOL = 1e-9  # a route's load may exceed the capacity by this much
TIME_TOL = 1e-6  # a service may start (or a vehicle return) this late


def _init_vrp(inst) -> None:
    init_geometry(inst, inst.coords, inst.dist, inst.edge_weight_type)
    n = inst.n
    if n < 2:
        raise InvalidInstance("coords / dist: a VRP needs the depot (node 0) and at least one customer")
    demands = float_array(inst.demands, "demands", (n,))
    if np.any(demands < 0):
        raise InvalidInstance(f"demands: negative demand at node {int(np.argmax(demands < 0))}")
    if demands[0] != 0:
        raise InvalidInstance(f"demands: the depot (node 0) must have demand 0, got {demands[0]:g}")
    try:
        capacity = float(inst.capacity)
    except (TypeError, ValueError):
        raise InvalidInstance(f"capacity: not a number ({inst.capacity!r})") from None
    if not np.isfinite(capacity) or capacity <= 0:
        raise InvalidInstance(f"capacity: must be positive and finite, got {inst.capacity!r}")
    over = np.flatnonzero(demands > capacity)
    if len(over):
        raise InvalidInstance(f"demands: node {int(over[0])} demands {demands[over[0]]:g} > capacity {capacity:g}")
    object.__setattr__(inst, "demands", demands)
    object.__setattr__(inst, "capacity", capacity)
    if inst.num_vehicles is not None:
        object.__setattr__(inst, "num_vehicles", whole_number(inst.num_vehicles, "num_vehicles", 1))


@dataclass(frozen=True, eq=False)
class CVRPInstance(Geometry):
    """A CVRP: node 0 is the depot; ``demands`` (n,) with ``demands[0] == 0``; one ``capacity`` for all vehicles.

    ``num_vehicles`` caps the number of routes when given (None: unlimited fleet, the CVRPLIB convention).
    """

    coords: np.ndarray | None = None
    demands: np.ndarray | None = None
    capacity: float = 1.0
    dist: np.ndarray | None = None
    name: str | None = None
    edge_weight_type: str | None = None
    num_vehicles: int | None = None

    problem = "cvrp"

    def __post_init__(self) -> None:
        _init_vrp(self)

    def __repr__(self) -> str:
        return f"CVRPInstance(name={self.name!r}, n={self.n}, capacity={self.capacity:g})"


@dataclass(frozen=True, eq=False)
class CVRPTWInstance(Geometry):
    """A CVRP with time windows ``[ready, due]`` (n, 2) and ``service_times`` (n,); travel time = distance.

    A vehicle leaves the depot at its ready time, waits when early, must start service by ``due``, and must
    be back at the depot by the depot's due time. Routes are capped by ``num_vehicles`` when given.
    """

    coords: np.ndarray | None = None
    demands: np.ndarray | None = None
    capacity: float = 1.0
    time_windows: np.ndarray | None = None
    service_times: np.ndarray | None = None
    dist: np.ndarray | None = None
    name: str | None = None
    edge_weight_type: str | None = None
    num_vehicles: int | None = None

    problem = "cvrptw"

    def __post_init__(self) -> None:
        _init_vrp(self)
        n = self.n
        if self.time_windows is None:
            raise InvalidInstance("time_windows: required, shape (n, 2)")
        tw = float_array(self.time_windows, "time_windows", (n, 2))
        if np.any(tw[:, 0] > tw[:, 1]):
            raise InvalidInstance(f"time_windows: ready > due at node {int(np.argmax(tw[:, 0] > tw[:, 1]))}")
        service = np.zeros(n) if self.service_times is None else float_array(self.service_times, "service_times", (n,))
        if np.any(service < 0):
            raise InvalidInstance(f"service_times: negative at node {int(np.argmax(service < 0))}")
        object.__setattr__(self, "time_windows", tw)
        object.__setattr__(self, "service_times", service)
        # Every customer must be servable by a vehicle of its own, or no solution exists.
        customers = np.arange(1, n)
        start = np.maximum(tw[0, 0] + self.distance(0, customers), tw[customers, 0])
        back = start + service[customers] + self.distance(customers, 0)
        late = np.flatnonzero((start > tw[customers, 1] + TIME_TOL) | (back > tw[0, 1] + TIME_TOL))
        if len(late):
            raise InvalidInstance(f"time_windows: customer {int(late[0]) + 1} cannot be served in time even alone")

    def __repr__(self) -> str:
        return f"CVRPTWInstance(name={self.name!r}, n={self.n}, capacity={self.capacity:g})"


def check_routes(instance, routes) -> list[np.ndarray]:
    """Routes as int arrays (empty ones dropped), or InfeasibleSolution naming the broken rule."""
    n = instance.n
    if isinstance(routes, np.ndarray) and routes.ndim == 1:
        raise InfeasibleSolution("routes: expected a list of routes (lists of customers), got a flat array")
    try:
        arrs = [np.asarray(r) for r in routes]
    except TypeError:
        raise InfeasibleSolution("routes: expected a list of routes (lists of customer indices)") from None
    out = []
    for k, r in enumerate(arrs):
        if r.ndim != 1 or (len(r) and r.dtype.kind not in "iu" and not np.all(r == np.round(r))):
            raise InfeasibleSolution(f"route {k}: not a sequence of integer customer indices")
        r = r.astype(np.int64)
        if np.any(r == 0):
            raise InfeasibleSolution(f"route {k}: contains the depot (0); the depot is implied at both ends")
        bad = r[(r < 1) | (r >= n)]
        if len(bad):
            raise InfeasibleSolution(f"route {k}: customer {int(bad[0])} out of range 1..{n - 1}")
        if len(r):
            out.append(r)
    seen = np.bincount(np.concatenate(out) if out else np.zeros(0, np.int64), minlength=n)
    if np.any(seen[1:] > 1):
        c = int(np.argmax(seen[1:] > 1)) + 1
        raise InfeasibleSolution(f"customer {c} visited {int(seen[c])} times")
    if np.any(seen[1:] == 0):
        c = int(np.argmax(seen[1:] == 0)) + 1
        raise InfeasibleSolution(f"customer {c} never visited ({int(np.sum(seen[1:] == 0))} missing)")
    if instance.num_vehicles is not None and len(out) > instance.num_vehicles:
        raise InfeasibleSolution(f"{len(out)} routes used but the fleet has {instance.num_vehicles} vehicles")
    for k, r in enumerate(out):
        load = float(np.sum(instance.demands[r]))
        if load > instance.capacity + LOAD_TOL:
            raise InfeasibleSolution(f"capacity exceeded at route {k}: load {load:g} > {instance.capacity:g}")
    return out


def check_time_windows(instance: CVRPTWInstance, routes: list[np.ndarray]) -> None:
    """Raise InfeasibleSolution at the first late arrival (customer or return to depot)."""
    tw, service = instance.time_windows, instance.service_times
    for k, r in enumerate(routes):
        t = tw[0, 0]
        prev = 0
        for c in r:
            t = max(t + float(instance.distance(prev, c)), tw[c, 0])
            if t > tw[c, 1] + TIME_TOL:
                raise InfeasibleSolution(f"time window missed at route {k}, customer {int(c)}: "
                                         f"arrives {t:g} > due {tw[c, 1]:g}")
            t += service[c]
            prev = c
        t += float(instance.distance(prev, 0))
        if t > tw[0, 1] + TIME_TOL:
            raise InfeasibleSolution(f"route {k} returns to the depot at {t:g} > depot due {tw[0, 1]:g}")


def routes_length(instance, routes: list[np.ndarray]) -> float:
    """Total length of the routes, each closed at the depot."""
    if not routes:
        return 0.0
    walks = [np.concatenate(([0], r)) for r in routes]
    i = np.concatenate(walks)
    j = np.concatenate([np.roll(w, -1) for w in walks])
    return instance.edges_length(i, j)


def evaluate_cvrp(instance: CVRPInstance, routes) -> float:
    """Total distance of a feasible CVRP solution."""
    return routes_length(instance, check_routes(instance, routes))


def evaluate_cvrptw(instance: CVRPTWInstance, routes) -> float:
    """Total distance of a feasible CVRPTW solution (capacity, fleet and time windows checked)."""
    checked = check_routes(instance, routes)
    check_time_windows(instance, checked)
    return routes_length(instance, checked)
