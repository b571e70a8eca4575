"""Prioritized planning (Silver 2005; Erdmann & Lozano-Pérez 1987) with space-time A*: agents are planned one
after another, each avoiding the cells and edges reserved by earlier ones and the goals where they park.

Incomplete: an order can fail where another succeeds, so failed orders are retried with random priorities
until the time limit. The space-time A* here is also CBS's low level.

Lifelong instances use windowed replanning in the style of RHCR (Li et al., AAAI 2021): every ``replan_every``
steps all agents are re-planned through their next goals, conflicts resolved only for the next ``window``
steps, and the first ``replan_every`` steps are executed. A window no priority order solves in time, and
every step after the time limit, is played by PIBT instead, so a full-horizon solution always comes back.
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import Callable

import numpy as np

from ncosolve.baselines.mapf_pibt import NO_PREFERENCES, _seed, pibt_config
from ncosolve.problems.mapf import neighbor_table, to_ids, to_positions
from ncosolve.problems.mapf_kernels import bfs_many


def space_time_astar(nbr: np.ndarray, h: np.ndarray, start: int, goal: int,
                     vertex_ok: Callable[[int, int], bool], edge_ok: Callable[[int, int, int], bool],
                     earliest_goal: int, max_t: int, deadline: float, start_time: int = 0) -> list[int] | None:
    """Shortest (fewest timesteps) path of cell ids from ``start`` to ``goal`` over time.

    ``vertex_ok(t, v)``: may the agent be on v at t; ``edge_ok(t, u, v)``: may it move u -> v between t and
    t+1. The agent may stop at ``goal`` only at t >= ``earliest_goal`` (it stays there afterwards, so the caller
    must keep the goal free from then on). ``h`` is the exact distance-to-goal map. The path starts at
    ``start_time``. None if no path ends by ``max_t`` or ``deadline`` (``time.perf_counter``) passes.
    """
    tie = itertools.count()
    heap = [(start_time + int(h[start]), -start_time, next(tie), start)]
    parent = {(start_time, start): None}
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


class _GoalDistances:
    """Distance-to-goal maps computed on demand and cached by goal cell."""

    def __init__(self, nbr: np.ndarray) -> None:
        self.nbr, self.maps = nbr, {}

    def __getitem__(self, goal: int) -> np.ndarray:
        if goal not in self.maps:
            self.maps[goal] = bfs_many(self.nbr, np.array([goal], dtype=np.int32))[0]
        return self.maps[goal]


def _plan_window(nbr, dists, q, streams, k, order, window, deadline) -> np.ndarray | None:
    """(agents, window+1) cells: each agent through its next goals, conflict-free for ``window`` steps."""
    res = Reservations()
    ncell = nbr.shape[0]
    plan = np.empty((len(q), window + 1), dtype=np.int64)

    def vertex_ok(t, v):
        return t > window or res.who(t, v) is None

    def edge_ok(t, u, v):
        return t >= window or res.edge_ok(t, u, v)

    for a in order:
        a = int(a)
        path, kk = [int(q[a])], int(k[a])
        while len(path) <= window and kk < streams.shape[1]:
            goal = int(streams[a, kk])
            seg = space_time_astar(nbr, dists[goal], path[-1], goal, vertex_ok, edge_ok, 0,
                                   len(path) - 1 + window + ncell, deadline, start_time=len(path) - 1)
            if seg is None:
                return None
            path += seg[1:]
            kk += 1
        for t in range(len(path), window + 1):  # stream used up: wait on the last cell
            if not vertex_ok(t, path[-1]):
                return None
            path.append(path[-1])
        plan[a] = path[:window + 1]
        for t, v in enumerate(plan[a]):
            res.cell[(t, int(v))] = a
    return plan


def _advance(q, streams, k, reached) -> None:
    """Count agents standing on their active goal and move them on to the next one."""
    for i in range(len(q)):
        while k[i] < streams.shape[1] and q[i] == streams[i, k[i]]:
            k[i] += 1
            reached[i] += 1


def _lifelong(instance, time_limit, seed, window, replan_every):
    deadline = time.perf_counter() + time_limit
    w = instance.grid.shape[1]
    nbr = neighbor_table(instance.grid)
    dists = _GoalDistances(nbr)
    streams = to_ids(instance.goal_streams, w).astype(np.int64)
    q = to_ids(instance.starts, w).astype(np.int64)
    n = len(q)
    k, reached = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    occ_now, occ_next = np.full(nbr.shape[0], -1, dtype=np.int64), np.full(nbr.shape[0], -1, dtype=np.int64)
    rng = np.random.default_rng(seed)
    _seed(seed)
    configs = [q.copy()]
    _advance(q, streams, k, reached)
    pibt_steps = 0
    empty = np.empty(0, dtype=np.int64)
    while len(configs) <= instance.horizon:
        steps = min(replan_every, instance.horizon + 1 - len(configs))
        plan = None
        for attempt in range(3):
            if time.perf_counter() > deadline:
                break
            order = np.argsort(-reached + rng.random(n)) if attempt == 0 else rng.permutation(n)
            plan = _plan_window(nbr, dists, q, streams, k, order, max(window, steps), deadline)
            if plan is not None:
                break
        for s in range(1, steps + 1):
            if plan is not None:
                q = plan[:, s].copy()
            else:  # PIBT fallback toward the current goals
                goals = streams[np.arange(n), np.minimum(k, streams.shape[1] - 1)]
                dist = np.stack([dists[int(g)] for g in goals])
                q = pibt_config(nbr, dist, goals, q, np.argsort(-reached, kind="stable"), empty, empty,
                                occ_now, occ_next, NO_PREFERENCES)
                pibt_steps += 1
            configs.append(q.copy())
            _advance(q, streams, k, reached)
    return to_positions(np.stack(configs, axis=1), w), {"pibt_fallback_steps": pibt_steps}


def solve_prioritized(instance, time_limit: float = 10.0, seed: int = 0, window: int = 10, replan_every: int = 5):
    """Prioritized-planning paths. One-shot: farthest agents first, then random orders until one succeeds;
    None if none does within the time limit. Lifelong: windowed replanning over the horizon (``window``,
    ``replan_every`` steps)."""
    if instance.problem == "mapf-lifelong":
        if instance.num_agents == 0:
            return np.zeros((0, instance.horizon + 1, 2), dtype=np.int64), {}
        return _lifelong(instance, time_limit, seed, window, replan_every)
    deadline = time.perf_counter() + time_limit
    w = instance.grid.shape[1]
    n = instance.num_agents
    if n == 0:
        return np.zeros((0, 1, 2), dtype=np.int64), {}
    nbr = neighbor_table(instance.grid)
    starts, goals = to_ids(instance.starts, w), to_ids(instance.goals, w)
    dist = bfs_many(nbr, goals.astype(np.int32))
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
