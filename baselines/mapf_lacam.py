"""LaCAM — lazy constraints addition search for MAPF (Okumura, AAAI 2023): complete one-shot search over joint
configurations whose successors are generated lazily by PIBT.

Each high-level node is a configuration; it owns a queue of low-level constraint sets ("agent i goes to cell v",
added one agent at a time in the node's priority order). Expanding a node pops one constraint set, grows its
children, and asks PIBT for a successor configuration respecting it. Depth-first over configurations, with
already-seen configurations re-entered rather than duplicated; every successor set is eventually tried, so
the search is complete: it finds a solution if one exists, given time.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from ncosolve.baselines.mapf_pibt import NO_PREFERENCES, _seed, initial_priorities, pibt_config
from ncosolve.problems.mapf import MAPFInstance, neighbor_table, to_ids, to_positions
from ncosolve.problems.mapf_kernels import bfs_many


class _Constraint:
    """A low-level node: ``who`` is forced to ``where``, on top of the parent's constraints."""

    __slots__ = ("parent", "who", "where", "depth")

    def __init__(self, parent: _Constraint | None, who: int, where: int) -> None:
        self.parent, self.who, self.where = parent, who, where
        self.depth = 0 if parent is None else parent.depth + 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        who, where = np.empty(self.depth, dtype=np.int64), np.empty(self.depth, dtype=np.int64)
        node, k = self, self.depth - 1
        while node.parent is not None:
            who[k], where[k] = node.who, node.where
            node, k = node.parent, k - 1
        return who, where


class _Node:
    """A high-level node: a configuration, its parent, agent order, and its queue of constraint sets."""

    __slots__ = ("config", "parent", "prio", "order", "tree")

    def __init__(self, config: np.ndarray, parent: _Node | None, prio: np.ndarray) -> None:
        self.config, self.parent, self.prio = config, parent, prio
        self.order = np.argsort(-prio, kind="stable")
        self.tree = deque([_Constraint(None, -1, -1)])


def lacam(nbr: np.ndarray, dist: np.ndarray, starts: np.ndarray, goals: np.ndarray, deadline: float,
          rng: np.random.Generator) -> tuple[list[np.ndarray] | None, dict]:
    """Configurations from ``starts`` to ``goals`` (cell ids per agent), or None by ``deadline``
    (``time.perf_counter`` seconds) or when the search space is exhausted (no solution)."""
    ncell = nbr.shape[0]
    occ_now = np.full(ncell, -1, dtype=np.int64)
    occ_next = np.full(ncell, -1, dtype=np.int64)
    root = _Node(starts.copy(), None, initial_priorities(dist, starts))
    explored = {root.config.tobytes(): root}
    stack = [root]
    iterations = 0
    while stack:
        iterations += 1
        if iterations % 32 == 0 and time.perf_counter() > deadline:
            return None, {"nodes": len(explored), "iterations": iterations, "reason": "time limit"}
        node = stack[-1]
        if np.array_equal(node.config, goals):
            configs = []
            while node is not None:
                configs.append(node.config)
                node = node.parent
            return configs[::-1], {"nodes": len(explored), "iterations": iterations}
        if not node.tree:
            stack.pop()
            continue
        cons = node.tree.popleft()
        if cons.depth < len(starts):
            i = int(node.order[cons.depth])
            cells = nbr[node.config[i]]
            cells = cells[cells >= 0]
            for v in cells[rng.permutation(len(cells))]:
                node.tree.append(_Constraint(cons, i, int(v)))
        who, where = cons.arrays()
        new = pibt_config(nbr, dist, goals, node.config, node.order, who, where, occ_now, occ_next,
                          NO_PREFERENCES)
        if len(new) == 0:
            continue
        key = new.tobytes()
        if key in explored:
            stack.append(explored[key])
            continue
        at_goal = new == goals
        prio = np.where(at_goal, node.prio - np.floor(node.prio), node.prio + 1.0)
        child = _Node(new, node, prio)
        explored[key] = child
        stack.append(child)
    return None, {"nodes": len(explored), "iterations": iterations, "reason": "no solution exists"}


def prepare_lacam(instance) -> None:
    """Compile the numba kernels LaCAM calls, on a 2x2 instance (a one-time cost outside the budget)."""
    solve_lacam(MAPFInstance(np.zeros((2, 2), dtype=bool), [(0, 0)], [(1, 1)]), 5.0)


def solve_lacam(instance, time_limit: float = 10.0, seed: int = 0):
    """LaCAM paths (agents, T+1, 2), or None when the time limit comes first or no solution exists."""
    deadline = time.perf_counter() + time_limit
    w = instance.grid.shape[1]
    if instance.num_agents == 0:
        return np.zeros((0, 1, 2), dtype=np.int64), {}
    nbr = neighbor_table(instance.grid)
    starts, goals = to_ids(instance.starts, w).astype(np.int64), to_ids(instance.goals, w).astype(np.int64)
    dist = bfs_many(nbr, goals.astype(np.int32))
    _seed(seed)
    configs, info = lacam(nbr, dist, starts, goals, deadline, np.random.default_rng(seed))
    if configs is None:
        return None, info
    return to_positions(np.stack(configs, axis=1), w), info
