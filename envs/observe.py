"""What the routing envs show and say, shared by the one-instance envs and the vector env: observation spaces,
node features in the instance's own units, the fit check for a given instance, and why an action is masked
(read from the core's mask rules, so the explanation cannot disagree with the mask)."""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from ncosolve.envs.routing_core import RouteState
from ncosolve.errors import InvalidInstance


def node_spaces(n: int, matrix: bool) -> dict[str, spaces.Space]:
    """``coords`` or ``distances`` (``matrix=True``), plus where the vehicle is and what is visited."""
    if matrix:
        nodes = {"distances": spaces.Box(0.0, np.inf, (n, n), np.float32)}
    else:
        nodes = {"coords": spaces.Box(-np.inf, np.inf, (n, 2), np.float32)}
    return {**nodes, "current": spaces.Discrete(n), "visited": spaces.MultiBinary(n),
            "action_mask": spaces.MultiBinary(n)}


def vehicle_spaces(problem: str, n: int) -> dict[str, spaces.Space]:
    """The VRPs' extra observation entries: demands and remaining capacity; windows, service and clock (CVRPTW)."""
    if problem == "tsp":
        return {}
    out = {"demands": spaces.Box(0.0, np.inf, (n,), np.float32),
           "remaining_capacity": spaces.Box(0.0, np.inf, (1,), np.float32)}
    if problem == "cvrptw":
        out.update(time_windows=spaces.Box(-np.inf, np.inf, (n, 2), np.float32),
                   service_times=spaces.Box(0.0, np.inf, (n,), np.float32),
                   current_time=spaces.Box(-np.inf, np.inf, (1,), np.float32))
    return out


def observation_space(problem: str, n: int, matrix: bool) -> spaces.Dict:
    """One instance's observation space."""
    return spaces.Dict({**node_spaces(n, matrix), **vehicle_spaces(problem, n)})


def check_fits(inst, problem: str, num_nodes: int, matrix: bool, name: str):
    """``inst`` if an env of ``problem`` with ``num_nodes`` nodes can run it, else InvalidInstance saying why."""
    if getattr(inst, "problem", None) != problem:
        raise InvalidInstance(f"{name}: expected a {problem} instance, got {type(inst).__name__}")
    if inst.n != num_nodes:
        raise InvalidInstance(f"{name}: the env was built for {num_nodes} nodes but {inst.name or 'the instance'} "
                              f"has {inst.n}; make the env with a matching size")
    if not matrix and inst.coords is None:
        raise InvalidInstance(f"{name}: {inst.name or 'the instance'} has a distance matrix only; "
                              "build the env with matrix=True to observe distances")
    return inst


def instance_features(inst, matrix: bool) -> dict[str, np.ndarray]:
    """The per-instance arrays every observation carries, float32 in the instance's units."""
    out = ({"distances": inst.distance_matrix().astype(np.float32)} if matrix
           else {"coords": inst.coords.astype(np.float32)})
    if inst.problem != "tsp":
        out["demands"] = inst.demands.astype(np.float32)
    if inst.problem == "cvrptw":
        out["time_windows"] = inst.time_windows.astype(np.float32)
        out["service_times"] = inst.service_times.astype(np.float32)
    return out


def state_obs(state: RouteState) -> dict[str, torch.Tensor]:
    """The changing part of the observations of each instance's first trajectory, as (B, ...) tensors: where the
    vehicle stands (a finished TSP tour at its first node), what is visited, the action mask, and for VRPs the
    remaining capacity (B, 1) and, for CVRPTW, the clock (B, 1)."""
    tsp = state.batch.problem == "tsp"
    obs = {"current": torch.where(state.done[:, 0], state.first[:, 0], state.last[:, 0]) if tsp else state.last[:, 0],
           "visited": state.visited[:, 0].to(torch.int8), "action_mask": state.mask()[:, 0].to(torch.int8)}
    if not tsp:
        obs["remaining_capacity"] = state.left[:, :1].clamp(min=0).float()
    if state.batch.problem == "cvrptw":
        obs["current_time"] = state.time[:, :1].float()
    return obs


def why_masked(inst, state: RouteState, node: int, row: int = 0) -> str:
    """Why ``node`` is not allowed next for instance ``row``'s first trajectory (the first core rule it fails)."""
    if inst.problem == "tsp":
        return f"node {node} is already in the tour"
    if node == 0:
        if int(state.last[row, 0]) == 0:
            return "the vehicle is at the depot already (a route must serve a customer)"
        return (f"this is the last of the fleet's {inst.num_vehicles} vehicles: it serves every customer it can "
                "before it returns")
    rules = {name: bool(rule[row, 0, node]) for name, rule in state.rules().items()}
    if not rules["unvisited"]:
        return f"customer {node} is already served"
    if not rules["capacity"]:
        return (f"customer {node} demands {inst.demands[node]:g} but the vehicle has "
                f"{float(state.left[row, 0]):g} left")
    return f"customer {node} cannot be reached within its time window and still return to the depot in time"
