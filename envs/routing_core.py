"""The routing dynamics, once: B instances x P parallel trajectories in torch, for TSP (coordinates or matrix,
symmetric or not), CVRP and CVRPTW (service times, time windows, fleet size).

Policies train and decode on ``RouteState``; the Gymnasium envs (``ncosolve/TSP-v0`` ...) and the vector env
(``RoutingVectorEnv``) step the same ``RouteState`` with P = 1. Feasibility uses the evaluator's tolerances
(``LOAD_TOL``, ``TIME_TOL`` from ``ncosolve.problems.vrp``) and the instance's own edge lengths, so a finished
trajectory's ``length`` is ``evaluate``'s objective.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from ncosolve.problems.vrp import LOAD_TOL, TIME_TOL

PROBLEMS = ("tsp", "cvrp", "cvrptw")


@dataclass(frozen=True)
class RoutingTensors:
    """B same-size instances of one problem as float64 tensors in the instance's own units; shapes in comments.

    TSP rows have zero demands, unit capacity and no windows. ``fleet`` is each instance's vehicle cap
    (``num_vehicles``), or N where it has none (never binding).
    """

    problem: str
    cost: torch.Tensor  # (B, N, N) edge lengths = travel times (``distance_matrix()``)
    demand: torch.Tensor  # (B, N)
    capacity: torch.Tensor  # (B,)
    windows: torch.Tensor  # (B, N, 2) [ready, due]; zeros for TSP and CVRP
    service: torch.Tensor  # (B, N); zeros for TSP and CVRP
    fleet: torch.Tensor  # (B,) long

    @property
    def size(self) -> int:
        """Number of nodes N (depot included for CVRP and CVRPTW)."""
        return self.cost.shape[1]

    def core_fields(self) -> dict:
        """The fields ``RoutingTensors`` itself declares (a subclass adds its own)."""
        return {f.name: getattr(self, f.name) for f in fields(RoutingTensors)}


def routing_tensors(instances, device="cpu") -> RoutingTensors:
    """Stack same-size instances of one routing problem."""
    problem = instances[0].problem
    if problem not in PROBLEMS:
        raise ValueError(f"routing problems are {PROBLEMS}, not {problem!r}")
    if any(inst.problem != problem or inst.n != instances[0].n for inst in instances):
        raise ValueError("routing_tensors: all instances must share problem and size")
    b, n = len(instances), instances[0].n
    cost = np.stack([inst.distance_matrix() for inst in instances]).astype(np.float64)
    demand, capacity = np.zeros((b, n)), np.ones(b)
    windows, service = np.zeros((b, n, 2)), np.zeros((b, n))
    fleet = np.full(b, n, dtype=np.int64)
    for k, inst in enumerate(instances):
        if problem != "tsp":
            demand[k], capacity[k] = inst.demands, inst.capacity
            if inst.num_vehicles is not None:
                fleet[k] = inst.num_vehicles
        if problem == "cvrptw":
            windows[k], service[k] = inst.time_windows, inst.service_times
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
    return RoutingTensors(problem, t(cost), t(demand), t(capacity), t(windows), t(service), t(fleet))


@dataclass
class RouteState:
    """Where each of the (B, P) trajectories stands; updated in place by ``step``.

    TSP: ``first``/``last`` are the first and current node (-1 before the first move); visiting the last node
    also drives the closing edge. CVRP/CVRPTW: trajectories start at the depot (``last`` = 0), ``left`` is the
    vehicle's remaining capacity, ``time`` when it is ready to leave its node (after service), ``routes`` the
    vehicles that have left the depot; a trajectory ends when every customer is served and it is back at the
    depot. ``length`` sums the instance's own edge lengths (float64), so it equals ``evaluate``'s objective.
    """

    batch: RoutingTensors
    visited: torch.Tensor  # (B, P, N) bool; the depot is never marked
    first: torch.Tensor  # (B, P) long
    last: torch.Tensor  # (B, P) long
    left: torch.Tensor  # (B, P) float64
    length: torch.Tensor  # (B, P) float64
    done: torch.Tensor  # (B, P) bool
    visits: torch.Tensor  # (B, P) long: nodes marked visited (customers for VRPs), so "all visited" is a compare
    time: torch.Tensor  # (B, P) float64 (CVRPTW; zeros otherwise)
    routes: torch.Tensor  # (B, P) long (VRPs)
    steps: int = 0

    @classmethod
    def initial(cls, batch: RoutingTensors, starts: int) -> "RouteState":
        """Empty trajectories, ``starts`` per instance."""
        b, n = batch.cost.shape[:2]
        dev = batch.cost.device
        start = -1 if batch.problem == "tsp" else 0
        zeros = lambda dtype: torch.zeros(b, starts, dtype=dtype, device=dev)  # noqa: E731
        return cls(batch, torch.zeros(b, starts, n, dtype=torch.bool, device=dev),
                   torch.full((b, starts), start, dtype=torch.long, device=dev),
                   torch.full((b, starts), start, dtype=torch.long, device=dev),
                   batch.capacity[:, None].expand(b, starts).clone(), zeros(torch.float64), zeros(torch.bool),
                   zeros(torch.long), batch.windows[:, 0, 0][:, None].expand(b, starts).clone(), zeros(torch.long))

    def select(self, rows: torch.Tensor, cols: torch.Tensor) -> "RouteState":
        """The trajectories ``[rows, cols]`` (broadcast index tensors) as a new state on the same batch."""
        picked = {f.name: getattr(self, f.name)[rows, cols] for f in fields(self) if f.name not in ("batch", "steps")}
        return RouteState(self.batch, steps=self.steps, **picked)

    def reset_rows(self, rows: torch.Tensor) -> None:
        """Put instances ``rows`` (B,) bool back at their start (after their tensors were rewritten)."""
        fresh = RouteState.initial(self.batch, self.visited.shape[1])
        for f in fields(self):
            if f.name not in ("batch", "steps"):
                getattr(self, f.name)[rows] = getattr(fresh, f.name)[rows]

    def travel_from_last(self) -> torch.Tensor:
        """(B, P, N) edge lengths from each trajectory's current node to every node."""
        b, p = self.last.shape
        return torch.gather(self.batch.cost, 1, self.last.clamp(min=0)[..., None].expand(b, p, self.batch.size))

    def rules(self) -> dict[str, torch.Tensor]:
        """The mask's parts, each (B, P, N) bool, True where that rule allows the node (``mask`` ANDs them;
        the envs name the first one that fails when they reject an action)."""
        return {"unvisited": ~self.visited, **self._vehicle_rules()}

    def _vehicle_rules(self) -> dict[str, torch.Tensor]:
        """The VRPs' rules beyond 'unvisited': capacity and, for CVRPTW, time windows."""
        t = self.batch
        if t.problem == "tsp":
            return {}
        parts = {"capacity": t.demand[:, None, :] <= self.left[..., None] + LOAD_TOL}
        if t.problem == "cvrptw":
            start = torch.maximum(self.time[..., None] + self.travel_from_last(), t.windows[:, None, :, 0])
            back = start + t.service[:, None, :] + t.cost[:, None, :, 0]
            parts["time"] = (start <= t.windows[:, None, :, 1] + TIME_TOL) & (back <= t.windows[:, None, :1, 1] + TIME_TOL)
        return parts

    def mask(self) -> torch.Tensor:
        """(B, P, N) True where the next action is allowed; finished trajectories may only 'stay' (depot / first).

        VRPs: the depot is allowed from a customer, except on the fleet's last vehicle while a customer can
        still be served (returning then can only end over the cap); at the depot some customer always fits,
        since instances guarantee a vehicle of its own can serve each.
        """
        allowed = ~self.visited
        if self.batch.problem == "tsp":
            rows = torch.nonzero(self.done, as_tuple=True)
            allowed[rows + (self.first[self.done],)] = True
            return allowed
        for rule in self._vehicle_rules().values():
            allowed &= rule
        depot = self.last != 0
        if bool((self.batch.fleet < self.batch.size).any()):  # a fleet cap that can bind
            allowed[..., 0] = False
            depot &= ~((self.routes >= self.batch.fleet[:, None]) & allowed.any(-1))
        allowed[..., 0] = depot | self.done
        return allowed

    def _edge(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """cost[b, src[b, p], dst[b, p]] for every (b, p), read by flat index (one element each)."""
        b, n = src.shape[0], self.batch.size
        flat = (torch.arange(b, device=src.device)[:, None] * n + src.clamp(min=0)) * n + dst
        return self.batch.cost.reshape(-1)[flat]

    def step(self, action: torch.Tensor, active: torch.Tensor | None = None) -> None:
        """Move every unfinished trajectory (and, given ``active`` (B, P) bool, only those) to ``action`` (B, P)."""
        t = self.batch
        live = ~self.done if active is None else ~self.done & active
        if t.problem == "tsp":
            moved = self.last >= 0
            self.length += torch.where(live & moved, self._edge(self.last, action), 0.0)
            self.first = torch.where(moved | ~live, self.first, action)
        else:
            edge = self._edge(self.last, action)
            self.length += torch.where(live, edge, 0.0)
            depot = action == 0
            left = torch.where(depot, t.capacity[:, None], self.left - torch.gather(t.demand, 1, action))
            self.left = torch.where(live, left, self.left)
            if t.problem == "cvrptw":
                ready = torch.maximum(self.time + edge, torch.gather(t.windows[..., 0], 1, action))
                clock = torch.where(depot, t.windows[:, :1, 0], ready + torch.gather(t.service, 1, action))
                self.time = torch.where(live, clock, self.time)
            self.routes += live & (self.last == 0) & ~depot
        self.last = torch.where(live, action, self.last)
        self.visited.scatter_(2, action[..., None], live[..., None] | self.visited.gather(2, action[..., None]))
        if t.problem == "tsp":
            self.visits += live
            finished = (self.visits == t.size) & live
            if bool(finished.any()):  # the closing edge, read only on the step that completes tours
                self.length += torch.where(finished, self._edge(self.last, self.first), 0.0)
        else:
            self.visited[..., 0] = False
            self.visits += live & (action != 0)
            finished = (self.visits == t.size - 1) & (action == 0) & live
        self.done = self.done | finished
        self.steps += 1


def to_solution(problem: str, actions) -> list:
    """One trajectory's actions as an ncosolve solution: a tour, or routes split at the depot."""
    if problem == "tsp":
        return [int(a) for a in actions]
    routes, route = [], []
    for a in actions:
        if a == 0:
            if route:
                routes.append(route)
            route = []
        else:
            route.append(int(a))
    if route:
        routes.append(route)
    return routes
