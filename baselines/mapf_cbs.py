"""Conflict-Based Search (Sharon et al., AIJ 2015): optimal sum of costs for a handful of agents.

The high level is a best-first search over constraint sets ordered by sum of costs; each node's paths are
optimal for their agents under the node's constraints (space-time A*), and its first vertex or swap conflict
splits it into two children, each forbidding the conflict for one of the two agents. Ties go to fewer
conflicts. Without corridor or target reasoning, CBS can blow up exponentially when several goals sit in a
pocket with one entrance; CP-SAT handles those tiny cases.
"""

from __future__ import annotations

import heapq
import itertools
import time

import numpy as np

from ncosolve.baselines.mapf_prioritized import as_positions, space_time_astar
from ncosolve.problems.mapf import neighbor_table, to_ids
from ncosolve.problems.mapf_kernels import bfs_many

MAX_AGENTS = 10


def _at(path: list[int], t: int) -> int:
    return path[t] if t < len(path) else path[-1]


def first_conflict(paths: list[list[int]]):
    """The earliest conflict as ("vertex", i, j, t, v) or ("edge", i, j, t, u, v) (i moves u -> v, j the other
    way, between t and t+1), or None."""
    horizon = max(len(p) for p in paths)
    for t in range(horizon):
        seen: dict[int, int] = {}
        for i, p in enumerate(paths):
            v = _at(p, t)
            if v in seen:
                return ("vertex", seen[v], i, t, v)
            seen[v] = i
        if t + 1 < horizon:
            for i, p in enumerate(paths):
                u, v = _at(p, t), _at(p, t + 1)
                if u == v:
                    continue
                j = seen.get(v)
                if j is not None and j != i and _at(paths[j], t + 1) == u:
                    return ("edge", min(i, j), max(i, j), t, *((u, v) if i < j else (v, u)))
    return None


def count_conflicts(paths: list[list[int]]) -> int:
    """Number of (timestep, vertex) and (timestep, edge) collisions among ``paths``: CBS's tie-breaker."""
    horizon = max(len(p) for p in paths)
    ids = np.array([p + [p[-1]] * (horizon - len(p)) for p in paths], dtype=np.int64)  # (agents, T+1)
    srt = np.sort(ids, axis=0)
    vertex = int((srt[1:] == srt[:-1]).sum())
    u, v = ids[:, :-1], ids[:, 1:]
    moving = u != v
    same = (u[:, None] == v[None]) & (v[:, None] == u[None]) & moving[:, None]
    return vertex + int(same.sum()) // 2


def _low_level(nbr, dist, starts, goals, agent, vertex_cons, edge_cons, deadline):
    cons_v = vertex_cons.get(agent, frozenset())
    cons_e = edge_cons.get(agent, frozenset())
    goal = int(goals[agent])
    earliest = max((t for t, v in cons_v if v == goal), default=-1) + 1
    last = max([t for t, _ in cons_v] + [t + 1 for t, _, _ in cons_e], default=0)
    return space_time_astar(nbr, dist[agent], int(starts[agent]), goal,
                            lambda t, v: (t, v) not in cons_v, lambda t, u, v: (t, u, v) not in cons_e,
                            earliest, last + nbr.shape[0], deadline)


def cbs(nbr, dist, starts, goals, deadline) -> tuple[list[list[int]] | None, dict]:
    """Sum-of-costs-optimal paths (cell ids per agent), or None when the deadline passes first."""
    n = len(starts)
    vertex_cons: dict[int, frozenset] = {}
    edge_cons: dict[int, frozenset] = {}
    paths = []
    for a in range(n):
        p = _low_level(nbr, dist, starts, goals, a, vertex_cons, edge_cons, deadline)
        if p is None:
            return None, {"reason": "time limit"}
        paths.append(p)
    tie = itertools.count()

    def key(ps):  # sum of costs, then fewest conflicts, then newest node first
        return sum(len(p) - 1 for p in ps), count_conflicts(ps), -next(tie)

    heap = [(*key(paths), paths, vertex_cons, edge_cons)]
    expanded = 0
    while heap:
        if time.perf_counter() > deadline:
            return None, {"reason": "time limit", "expanded": expanded}
        soc, _, _, paths, vertex_cons, edge_cons = heapq.heappop(heap)
        conflict = first_conflict(paths)
        if conflict is None:
            return paths, {"expanded": expanded, "soc": soc}
        expanded += 1
        kind, i, j, t = conflict[:4]
        for agent in (i, j):
            vc, ec = dict(vertex_cons), dict(edge_cons)
            if kind == "vertex":
                vc[agent] = vc.get(agent, frozenset()) | {(t, conflict[4])}
            else:
                u, v = conflict[4], conflict[5]
                move = (t, u, v) if agent == i else (t, v, u)
                ec[agent] = ec.get(agent, frozenset()) | {move}
            p = _low_level(nbr, dist, starts, goals, agent, vc, ec, deadline)
            if p is None:
                continue
            child = list(paths)
            child[agent] = p
            heapq.heappush(heap, (*key(child), child, vc, ec))
    return None, {"reason": "no solution exists", "expanded": expanded}


def solve_cbs(instance, time_limit: float = 10.0, seed: int = 0):
    """Sum-of-costs-optimal paths (agents, T+1, 2); None beyond ``MAX_AGENTS`` agents or the time limit."""
    deadline = time.perf_counter() + time_limit
    n = instance.num_agents
    if n > MAX_AGENTS:
        return None, {"reason": f"CBS is for at most {MAX_AGENTS} agents, got {n}"}
    if n == 0:
        return np.zeros((0, 1, 2), dtype=np.int64), {}
    w = instance.grid.shape[1]
    nbr = neighbor_table(instance.grid)
    starts, goals = to_ids(instance.starts, w), to_ids(instance.goals, w)
    dist = bfs_many(nbr, goals.astype(np.int32))
    paths, info = cbs(nbr, dist, starts, goals, deadline)
    if paths is None:
        return None, info
    return as_positions(paths, w), info
