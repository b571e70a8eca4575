"""CVRP and CVRPTW as Gymnasium envs (``ncosolve/CVRP-v0``, ``ncosolve/CVRPTW-v0``); node 0 is the depot.

Action 0 drives back to the depot and closes the current route; action ``c >= 1`` serves customer ``c``.
The mask is the routing core's (``ncosolve.envs.routing_core.RouteState.mask``): the depot whenever the
vehicle is at a customer (never twice in a row, so no empty routes), and the unserved customers whose demand
fits the remaining capacity; CVRPTW also requires that the vehicle can start service by the customer's due
time and still reach the depot by the depot's due time afterwards (the checks ``evaluate`` makes, with its
tolerances). At the depot at least one customer is always allowed (instances guarantee each customer fits a
vehicle of its own), so every episode ends: it terminates when every customer is served and the last vehicle
is back at the depot.

When the instance caps the fleet (``num_vehicles``, e.g. 25 for Solomon), the last vehicle may not return
while it can still serve a customer (returning then could only end over the cap). If the episode still used
more routes, ``info["feasible"]`` is False and ``info["objective"]`` is the ``evaluate`` cost with the cap
lifted; otherwise ``feasible`` is True and ``objective`` is ``evaluate(instance, solution)``.
See ``ncosolve.envs.tsp`` for the action, reward and masking contract all routing envs share.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium import spaces

from ncosolve.envs.observe import vehicle_spaces
from ncosolve.envs.routing_core import to_solution
from ncosolve.envs.tsp import RoutingEnv
from ncosolve.errors import InvalidInstance
from ncosolve.problems import evaluate


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
        self.observation_space = spaces.Dict({**self._node_spaces(), **vehicle_spaces(self.problem, size + 1)})

    @property
    def routes(self) -> list[list[int]]:
        """The routes closed so far."""
        closed = self.actions[:len(self.actions) - len(self.route)]
        return to_solution(self.problem, closed)

    @property
    def route(self) -> list[int]:
        """The customers of the open route, in order (empty at the depot)."""
        tail = []
        for a in reversed(self.actions):
            if a == 0:
                break
            tail.append(a)
        return tail[::-1]

    @property
    def served(self) -> np.ndarray:
        """(n,) int8: 1 for each customer served so far."""
        return self.state.visited[0, 0].numpy().astype(np.int8)

    def _walks(self) -> list[list[int]]:
        walks = [[0, *r, 0] for r in self.routes]
        return walks + [[0, *self.route]] if self.route else walks

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
