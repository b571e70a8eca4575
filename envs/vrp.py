"""CVRP and CVRPTW as Gymnasium envs (``ncosolve/CVRP-v0``, ``ncosolve/CVRPTW-v0``); node 0 is the depot.

Action 0 drives back to the depot and closes the current route; action ``c >= 1`` serves customer ``c``.
The mask allows the depot whenever the vehicle is at a customer (never twice in a row, so no empty
routes), and the unserved customers whose demand fits the remaining capacity; CVRPTW also requires that
the vehicle can start service by the customer's due time and still reach the depot by the depot's due
time afterwards (the checks ``evaluate`` makes, with its tolerances). At the depot at least one customer is
always allowed (instances guarantee each customer fits a vehicle of its own), so every episode ends: it
terminates when every customer is served and the last vehicle is back at the depot.

The fleet is not limited during an episode (the convention of learned construction policies). When the
instance caps it (``num_vehicles``, e.g. 25 for Solomon) and the episode used more routes,
``info["feasible"]`` is False and ``info["objective"]`` is the ``evaluate`` cost with the cap lifted;
otherwise ``feasible`` is True and ``objective`` is ``evaluate(instance, solution)``.
See ``ncosolve.envs.tsp`` for the action, reward and masking contract all routing envs share.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium import spaces

from ncosolve.envs.tsp import RoutingEnv
from ncosolve.errors import InvalidInstance
from ncosolve.problems import evaluate
from ncosolve.problems.vrp import LOAD_TOL, TIME_TOL



class CVRPEnv(RoutingEnv):
    """Build CVRP routes visit by visit (action 0 = back to the depot, c = serve customer c).

    Parameters
    ----------
    size : number of customers (the instance has ``size + 1`` nodes with the depot).
    distribution : generator distribution for episodes reset without an instance.
    matrix : observe ``distances`` (n, n) instead of ``coords``; needed for matrix-only instances.
    render_mode : None or ``"rgb_array"``.

    Observation: ``coords`` (n, 2) or ``distances`` (n, n), ``demands`` (n,), ``remaining_capacity`` (1,)
    (all float32, in the instance's units), ``current`` (node index), ``visited`` (n,) int8 (served
    customers; the depot entry stays 0), ``action_mask`` (n,) int8. A finished episode's ``info`` holds
    ``solution`` (a list of routes of customer indices), ``objective``, ``feasible`` and ``num_routes``.
    """

    problem = "cvrp"

    def __init__(self, size: int = 20, distribution: str = "uniform", matrix: bool = False,
                 render_mode: str | None = None):
        if size < 1:
            raise InvalidInstance(f"size: a {self.problem.upper()} env needs at least 1 customer, got {size}")
        super().__init__(size + 1, size, distribution, matrix, render_mode)
        self.observation_space = spaces.Dict({**self._node_spaces(), **self._vehicle_spaces()})
        self.routes: list[list[int]] = []
        self.route: list[int] = []
        self.served = np.zeros(size + 1, dtype=np.int8)
        self.load = 0.0

    def _vehicle_spaces(self) -> dict[str, spaces.Space]:
        n = self.num_nodes
        return {"demands": spaces.Box(0.0, np.inf, (n,), np.float32),
                "remaining_capacity": spaces.Box(0.0, np.inf, (1,), np.float32)}

    def _static_features(self) -> dict[str, np.ndarray]:
        return {"demands": self.instance.demands.astype(np.float32)}

    def _reset_state(self) -> None:
        self.routes, self.route = [], []
        self.served = np.zeros(self.num_nodes, dtype=np.int8)
        self.load = 0.0

    def _current(self) -> int:
        return self.route[-1] if self.route else 0

    def _customers_allowed(self) -> np.ndarray:
        """Bool (n,): unserved customers that fit the remaining capacity (index 0 is False)."""
        ok = (self.served == 0) & (self.load + self.instance.demands <= self.instance.capacity + LOAD_TOL)
        ok[0] = False
        return ok

    def _mask(self) -> np.ndarray:
        if self.done:
            mask = np.zeros(self.num_nodes, dtype=np.int8)
            mask[0] = 1
            return mask
        mask = self._customers_allowed().astype(np.int8)
        mask[0] = 1 if self.route else 0
        return mask

    def _why_masked(self, node: int) -> str:
        if node == 0:
            return "the vehicle is at the depot already (a route must serve a customer)"
        if self.served[node]:
            return f"customer {node} is already served"
        if self.load + self.instance.demands[node] > self.instance.capacity + LOAD_TOL:
            return (f"customer {node} demands {self.instance.demands[node]:g} but the vehicle has "
                    f"{self.instance.capacity - self.load:g} left")
        return f"customer {node} cannot be reached within its time window and still return to the depot in time"

    def _obs(self) -> dict:
        obs = self._base_obs(self._current(), self.served)
        left = max(0.0, self.instance.capacity - self.load)
        obs["remaining_capacity"] = np.array([left], dtype=np.float32)
        return obs

    def _visit(self, node: int) -> tuple[list[int], list[int]]:
        """Serve ``node`` or, for 0, close the route; return the edge driven."""
        current = self._current()
        if node == 0:
            self.routes.append(self.route)
            self.route, self.load = [], 0.0
            self.done = bool(self.served[1:].all())
        else:
            self.route.append(node)
            self.served[node] = 1
            self.load += float(self.instance.demands[node])
        return [current], [node]

    def _walks(self) -> list[list[int]]:
        walks = [[0, *r, 0] for r in self.routes]
        return walks + [[0, *self.route]] if self.route else walks

    def _solution(self) -> list[list[int]]:
        return [list(r) for r in self.routes]

    def _final_info(self) -> dict:
        """The routes and their cost; over the instance's fleet cap, the cost with the cap lifted."""
        routes = self._solution()
        cap = self.instance.num_vehicles
        over = cap is not None and len(routes) > cap
        judged = dataclasses.replace(self.instance, num_vehicles=None) if over else self.instance
        return {"solution": routes, "objective": evaluate(judged, routes), "feasible": not over,
                "num_routes": len(routes)}


class CVRPTWEnv(CVRPEnv):
    """CVRP-v0 with time windows: travel time = distance, a vehicle waits when early and serves for
    ``service_times[c]``; each route leaves the depot at the depot's ready time.

    Observation adds ``time_windows`` (n, 2), ``service_times`` (n,) and ``current_time`` (1,): when the
    vehicle is ready to leave its current node (after service), all float32 in the instance's units.
    """

    problem = "cvrptw"

    def __init__(self, size: int = 20, distribution: str = "uniform", matrix: bool = False,
                 render_mode: str | None = None):
        super().__init__(size, distribution, matrix, render_mode)
        self.time = 0.0
        self._to_depot = np.zeros(self.num_nodes)

    def _vehicle_spaces(self) -> dict[str, spaces.Space]:
        n = self.num_nodes
        return {**super()._vehicle_spaces(),
                "time_windows": spaces.Box(-np.inf, np.inf, (n, 2), np.float32),
                "service_times": spaces.Box(0.0, np.inf, (n,), np.float32),
                "current_time": spaces.Box(-np.inf, np.inf, (1,), np.float32)}

    def _static_features(self) -> dict[str, np.ndarray]:
        return {**super()._static_features(), "time_windows": self.instance.time_windows.astype(np.float32),
                "service_times": self.instance.service_times.astype(np.float32)}

    def _reset_state(self) -> None:
        super()._reset_state()
        self.time = float(self.instance.time_windows[0, 0])
        self._to_depot = self.instance.distance(np.arange(self.num_nodes), 0)

    def _customers_allowed(self) -> np.ndarray:
        """Capacity-feasible customers whose window can be met with the depot still reachable in time."""
        inst = self.instance
        tw = inst.time_windows
        start = np.maximum(self.time + inst.distance(self._current(), np.arange(self.num_nodes)), tw[:, 0])
        back = start + inst.service_times + self._to_depot
        in_time = (start <= tw[:, 1] + TIME_TOL) & (back <= tw[0, 1] + TIME_TOL)
        return super()._customers_allowed() & in_time

    def _obs(self) -> dict:
        obs = super()._obs()
        obs["current_time"] = np.array([self.time], dtype=np.float32)
        return obs

    def _visit(self, node: int) -> tuple[list[int], list[int]]:
        """As CVRP, advancing the clock: wait for the window, then serve; a new route leaves at the depot's ready
        time."""
        current = self._current()
        edges = super()._visit(node)
        inst = self.instance
        if node == 0:
            self.time = float(inst.time_windows[0, 0])
        else:
            arrive = self.time + float(inst.distance(current, node))
            self.time = max(arrive, float(inst.time_windows[node, 0])) + float(inst.service_times[node])
        return edges
