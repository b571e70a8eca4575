"""Exact MAPF by OR-Tools CP-SAT on a time-expanded graph: optimal sum of costs for tiny instances.

Per agent and timestep a 0/1 move variable for every (cell, next cell) pair the agent can use on a path of
length <= T (pruned by distance from its start and to its goal); flow conservation, at most one agent per cell
(vertex) and per undirected edge (swap) each step. ``done[a, t]`` may be 1 only when the agent is on its goal
at t and stays, and the objective sum_t (1 - done[a, t]) is exactly the sum-of-costs convention of
``evaluate``. The horizon starts at the largest individual distance; once a solution of cost U is known, any
SoC-optimal solution has makespan <= U - sum(d) + max(d), so one more solve at that horizon proves optimality.
"""

from __future__ import annotations

import time

import numpy as np
from ortools.sat.python import cp_model

from ncosolve.problems.mapf import neighbor_table, to_ids, to_positions
from ncosolve.problems.mapf_kernels import bfs_many

MAX_CELLS = 100_000  # (agent, timestep, cell) literals a model may hold: beyond, CP-SAT's memory runs to GBs


def _layer_cells(d_start, d_goal, horizon) -> int:
    """Literals of the time-expanded model at ``horizon``: cells each agent can be on at each step."""
    total = 0
    ok = (d_start >= 0) & (d_goal >= 0)
    for t in range(horizon + 1):
        total += int(np.count_nonzero(ok & (d_start <= t) & (d_goal <= horizon - t)))
    return total


def _solve_horizon(nbr, d_start, d_goal, goals, horizon, deadline, seed):
    """(status, soc, cell ids (agents, horizon+1)) of the SoC-optimal plan with makespan <= ``horizon``;
    "unknown" when ``deadline`` (a perf_counter value) passes, building the model included."""

    n = len(goals)
    model = cp_model.CpModel()
    at: list[list[dict[int, object]]] = []  # at[a][t][v] = literal "agent a on v at t"
    move: dict[tuple[int, int, int, int], object] = {}
    for a in range(n):
        if time.perf_counter() > deadline:
            return "unknown", None, None
        layers = []
        for t in range(horizon + 1):
            cells = np.flatnonzero((d_start[a] >= 0) & (d_start[a] <= t) & (d_goal[a] >= 0)
                                   & (d_goal[a] <= horizon - t))
            layers.append({int(v): model.NewBoolVar(f"x{a}_{t}_{v}") for v in cells})
            model.AddExactlyOne(layers[t].values())
        at.append(layers)
        for t in range(horizon):
            if time.perf_counter() > deadline:
                return "unknown", None, None
            incoming: dict[int, list] = {v: [] for v in layers[t + 1]}
            for u, lit_u in layers[t].items():
                outs = []
                for v in nbr[u]:
                    v = int(v)
                    if v >= 0 and v in layers[t + 1]:
                        m = model.NewBoolVar(f"m{a}_{t}_{u}_{v}")
                        move[(a, t, u, v)] = m
                        outs.append(m)
                        incoming[v].append(m)
                model.Add(sum(outs) == lit_u)
            for v, ins in incoming.items():
                model.Add(sum(ins) == layers[t + 1][v])
    if time.perf_counter() > deadline:
        return "unknown", None, None
    for t in range(horizon + 1):
        by_cell: dict[int, list] = {}
        for a in range(n):
            for v, lit in at[a][t].items():
                by_cell.setdefault(v, []).append(lit)
        for lits in by_cell.values():
            if len(lits) > 1:
                model.AddAtMostOne(lits)
    by_edge: dict[tuple[int, int, int], list] = {}
    for (a, t, u, v), m in move.items():
        if u != v:
            by_edge.setdefault((t, min(u, v), max(u, v)), []).append(m)
    for lits in by_edge.values():
        if len(lits) > 1:
            model.AddAtMostOne(lits)
    cost_terms = []
    for a in range(n):
        g = int(goals[a])
        done = [model.NewBoolVar(f"d{a}_{t}") for t in range(horizon + 1)]
        model.Add(done[horizon] == 1)
        for t in range(horizon + 1):
            model.AddImplication(done[t], at[a][t][g]) if g in at[a][t] else model.Add(done[t] == 0)
            if t < horizon:
                model.AddImplication(done[t], done[t + 1])
                cost_terms.append(1 - done[t])
    model.Minimize(sum(cost_terms))
    solver = cp_model.CpSolver()
    left = deadline - time.perf_counter()
    if left <= 0:
        return "unknown", None, None
    solver.parameters.max_time_in_seconds = left
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ("infeasible" if status == cp_model.INFEASIBLE else "unknown"), None, None
    ids = np.array([[next(v for v, lit in at[a][t].items() if solver.Value(lit)) for t in range(horizon + 1)]
                    for a in range(n)], dtype=np.int64)
    return ("optimal" if status == cp_model.OPTIMAL else "feasible"), int(round(solver.ObjectiveValue())), ids


def solve_cpsat(instance, time_limit: float = 30.0, seed: int = 0):
    """SoC-optimal paths (agents, T+1, 2); ``info["optimal"]`` says whether optimality was proved in time.
    None if no solution was found in time."""
    deadline = time.perf_counter() + time_limit
    n = instance.num_agents
    w = instance.grid.shape[1]
    if n == 0:
        return np.zeros((0, 1, 2), dtype=np.int64), {"optimal": True}
    nbr = neighbor_table(instance.grid)
    starts, goals = to_ids(instance.starts, w), to_ids(instance.goals, w)
    d_start = bfs_many(nbr, starts.astype(np.int32))
    d_goal = bfs_many(nbr, goals.astype(np.int32))
    d = d_goal[np.arange(n), starts].astype(int)
    horizon = int(d.max())
    best, proved = None, False
    while time.perf_counter() < deadline:
        cells = _layer_cells(d_start, d_goal, horizon)
        if cells > MAX_CELLS:
            reason = f"the time-expanded model at horizon {horizon} needs {cells:,} cell literals (limit {MAX_CELLS:,})"
            if best is None:
                return None, {"reason": f"CP-SAT is for tiny instances: {reason}"}
            break
        status, soc, ids = _solve_horizon(nbr, d_start, d_goal, goals, horizon, deadline, seed)
        if status == "infeasible":
            horizon = horizon + max(1, horizon // 2)
            continue
        if status == "unknown":
            break
        if best is None or soc < best[0]:
            best = (soc, ids)
        bound = best[0] - int(d.sum()) + int(d.max())
        if status != "optimal":
            break
        if bound <= horizon:
            proved = True
            break
        horizon = bound  # a cheaper plan could need a longer makespan: re-solve once at the proven bound
    if best is None:
        return None, {"reason": "no solution found in time"}
    return to_positions(best[1], w), {"optimal": proved, "soc": best[0], "horizon": horizon}
