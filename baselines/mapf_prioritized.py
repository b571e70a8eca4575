"""Prioritized planning (Silver 2005; Erdmann & Lozano-Pérez 1987) with space-time A*: agents are planned one
after another, each avoiding the cells and edges reserved by earlier ones and the goals where they park.

Incomplete: an order can fail where another succeeds, so failed orders are retried with random priorities
until the time limit. The space-time A* here is also CBS's low level.
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import Callable

import numpy as np

from ncosolve.problems.mapf import _bfs_many, neighbor_table, to_ids, to_positions
from ncosolve.registry import register


def space_time_astar(nbr: np.ndarray, h: np.ndarray, start: int, goal: int,
                     vertex_ok: Callable[[int, int], bool], edge_ok: Callable[[int, int, int], bool],
                     earliest_goal: int, max_t: int, deadline: float) -> list[int] | None:
    """Shortest (fewest timesteps) path of cell ids from ``start`` to ``goal`` over time.

    ``vertex_ok(t, v)``: may the agent be on v at t; ``edge_ok(t, u, v)``: may it move u -> v between t and
    t+1. The agent may stop at ``goal`` only at t >= ``earliest_goal`` (it stays there afterwards, so the caller
    must keep the goal free from then on). ``h`` is the exact distance-to-goal map. None if no path ends by
    ``max_t`` or ``deadline`` (``time.perf_counter``) passes.
    """
    tie = itertools.count()
    heap = [(int(h[start]), 0, next(tie), start)]
    parent = {(0, start): None}
    expanded = 0
    while heap:
        _, negt, _, v = heapq.heappop(heap)
        t = -negt
        if v == goal and t >= earliest_goal:
            path = [v]
            key = (t, v)
            while parent[key] is not None:
                key = parent[key]
                path.append(key[1])
            return path[::-1]
        expanded += 1
        if expanded % 4096 == 0 and time.perf_counter() > deadline:
            return None
        if t >= max_t:
            continue
        for u in nbr[v]:
            if u < 0:
                continue
            u = int(u)
            key = (t + 1, u)
            if key in parent or not vertex_ok(t + 1, u) or not edge_ok(t, v, u):
                continue
            parent[key] = (t, v)
            heapq.heappush(heap, (t + 1 + int(h[u]), -(t + 1), next(tie), u))
    return None


class Reservations:
    """Cells and moves taken by already planned agents; an agent parks on its goal forever after arriving."""

    def __init__(self) -> None:
        self.cell: dict[tuple[int, int], int] = {}
        self.parked: dict[int, tuple[int, int]] = {}  # cell -> (from time, agent)
        self.last: dict[int, int] = {}
        self.horizon = 0

    def add(self, agent: int, path: list[int]) -> None:
        """Reserve ``path`` (cell ids, t = 0..T) for ``agent``, parking it on the last cell from T on."""
        for t, v in enumerate(path[:-1]):
            self.cell[(t, v)] = agent
            self.last[v] = max(self.last.get(v, -1), t)
        self.parked[path[-1]] = (len(path) - 1, agent)
        self.horizon = max(self.horizon, len(path) - 1)

    def who(self, t: int, v: int) -> int | None:
        """The planned agent on cell v at time t, if any."""
        agent = self.cell.get((t, v))
        if agent is None and v in self.parked and t >= self.parked[v][0]:
            agent = self.parked[v][1]
        return agent

    def vertex_ok(self, t: int, v: int) -> bool:
        return self.who(t, v) is None

    def edge_ok(self, t: int, u: int, v: int) -> bool:
        other = self.who(t, v)
        return other is None or self.who(t + 1, u) != other


def prioritized_once(nbr, dist, starts, goals, order, deadline) -> list[list[int]] | None:
    """Plan agents in ``order``; None as soon as one has no path."""
    res = Reservations()
    paths: list[list[int] | None] = [None] * len(starts)
    ncell = int((nbr[:, 0] >= 0).sum())
    for a in order:
        a = int(a)
        if res.who(0, int(starts[a])) is not None:
            return None  # an earlier agent starts parked on this agent's start
        earliest = res.last.get(int(goals[a]), -1) + 1
        path = space_time_astar(nbr, dist[a], int(starts[a]), int(goals[a]), res.vertex_ok, res.edge_ok,
                                earliest, res.horizon + ncell, deadline)
        if path is None:
            return None
        res.add(a, path)
        paths[a] = path
    return paths


def as_positions(paths: list[list[int]], width: int) -> np.ndarray:
    """(agents, T+1, 2) positions from per-agent cell-id paths, each agent waiting on its last cell."""
    length = max(len(p) for p in paths)
    ids = np.array([p + [p[-1]] * (length - len(p)) for p in paths], dtype=np.int64)
    return to_positions(ids, width)


@register("mapf-prioritized", ("mapf",), "prioritized planning with space-time A*, random restarts",
          default_time_limit=10.0, strength=1)
def solve_prioritized(instance, time_limit: float = 10.0, seed: int = 0):
    """Prioritized-planning paths: farthest agents first, then random orders until one succeeds; None if
    none does within the time limit."""
    deadline = time.perf_counter() + time_limit
    w = instance.grid.shape[1]
    n = instance.num_agents
    if n == 0:
        return np.zeros((0, 1, 2), dtype=np.int64), {}
    nbr = neighbor_table(instance.grid)
    starts, goals = to_ids(instance.starts, w), to_ids(instance.goals, w)
    dist = _bfs_many(nbr, goals.astype(np.int32))
    rng = np.random.default_rng(seed)
    order = np.argsort(-dist[np.arange(n), starts], kind="stable")
    attempts = 0
    while time.perf_counter() < deadline:
        attempts += 1
        paths = prioritized_once(nbr, dist, starts, goals, order, deadline)
        if paths is not None:
            return as_positions(paths, w), {"attempts": attempts}
        order = rng.permutation(n)
    return None, {"attempts": attempts, "reason": "no priority order succeeded in time"}
