"""PIBT — Priority Inheritance with Backtracking (Okumura et al., AIJ 2022): one-step planning for thousands of
agents. One-shot (incomplete: may stop short of the goals) and lifelong (new goal on arrival).

Each timestep agents are taken in priority order (priority grows while an agent is away from its goal); an
agent moves to its best free neighbour by distance-to-goal and, if that cell is occupied by an agent not yet
planned, that agent inherits the priority and must move away first, backtracking when it cannot.
The kernels are numba-compiled and shared with LaCAM (``pibt_config``).
"""

from __future__ import annotations

import time

import numba
import numpy as np

from ncosolve.problems.mapf import MAPFInstance, MAPFLifelongInstance, neighbor_table, to_ids, to_positions
from ncosolve.problems.mapf_kernels import bfs_many

NO_PREFERENCES = np.empty((0, 5), dtype=np.int64)
"""``pibt_config``'s ``pref`` for plain PIBT: every agent orders its moves by distance to its goal"""


@numba.njit(cache=True)
def _seed(seed: int) -> None:
    np.random.seed(seed)


@numba.njit(cache=True)
def _degree(nbr, v) -> int:
    d = 0
    for k in range(1, 5):
        if nbr[v, k] >= 0:
            d += 1
    return d


@numba.njit(cache=True)
def _passable(nbr, goals, occ_now, u, came_from) -> bool:
    """Whether an agent walking a corridor could step onto ``u``: not where it came from, and not a dead end
    held by an agent parked on its goal."""
    if u == came_from:
        return False
    a = occ_now[u]
    return not (_degree(nbr, u) == 1 and a != -1 and goals[a] == u)


@numba.njit(cache=True)
def _exits(nbr, goals, occ_now, v, came_from):
    """(number of passable neighbours of ``v`` other than ``came_from``, one of them)."""
    n, last = 0, -1
    for k in range(1, 5):
        u = nbr[v, k]
        if u >= 0 and _passable(nbr, goals, occ_now, u, came_from):
            n += 1
            last = u
    return n, last


@numba.njit(cache=True)
def _swap_required(nbr, dist, goals, occ_now, pusher, puller, v_pusher, v_puller) -> bool:
    """Simulate ``pusher`` driving ``puller`` ahead of it along a corridor; a swap is required when the
    corridor never branches and the two want to pass each other."""
    while dist[pusher, v_puller] < dist[pusher, v_pusher]:
        n, nxt = _exits(nbr, goals, occ_now, v_puller, v_pusher)
        if n >= 2:
            return False  # a side branch: the puller can step aside, no swap needed
        if n == 0:
            break
        v_pusher, v_puller = v_puller, nxt
    return dist[puller, v_pusher] < dist[puller, v_puller] and (
        dist[pusher, v_pusher] == 0 or dist[pusher, v_puller] < dist[pusher, v_pusher])


@numba.njit(cache=True)
def _swap_possible(nbr, goals, occ_now, v_pusher_origin, v_puller_origin) -> bool:
    """Walk back from ``v_puller_origin`` away from ``v_pusher_origin``: a swap is possible if the corridor
    reaches a branching cell where the two agents can exchange order."""
    v_pusher, v_puller = v_pusher_origin, v_puller_origin
    while v_puller != v_pusher_origin:
        n, nxt = _exits(nbr, goals, occ_now, v_puller, v_pusher)
        if n >= 2:
            return True
        if n == 0:
            return False
        v_pusher, v_puller = v_puller, nxt
    return False


@numba.njit(cache=True)
def _swap_partner(i, cand, nbr, dist, goals, q_from, q_to, occ_now) -> int:
    """The agent ``i`` should swap with (moving away from its goal and pulling that agent along), or -1.

    This is the swap technique of LaCAM2 (Okumura, IJCAI 2023): it resolves head-on meetings in corridors that
    plain PIBT turns into livelocks."""
    u0 = q_from[i]
    if cand[0] == u0:
        return -1
    j = occ_now[cand[0]]
    if j != -1 and q_to[j] == -1 and _swap_required(nbr, dist, goals, occ_now, i, j, u0, cand[0]) \
            and _swap_possible(nbr, goals, occ_now, cand[0], u0):
        return j
    for k in range(1, 5):
        u = nbr[u0, k]
        if u < 0:
            continue
        a = occ_now[u]
        if a == -1 or u == cand[0]:
            continue
        if _swap_required(nbr, dist, goals, occ_now, a, i, u0, cand[0]) \
                and _swap_possible(nbr, goals, occ_now, cand[0], u0):
            return a
    return -1


@numba.njit(cache=True)
def _candidates(i, u0, nbr, dist, pref):
    """(cells agent ``i`` at ``u0`` tries in order, how many): ``pref[i]`` (actions, best first, -1 padded) when
    ``pref`` has rows, else its free neighbours by distance to goal with a random tie-break."""
    cand = np.empty(5, dtype=np.int64)
    m = 0
    if pref.shape[0] > 0:
        for x in range(5):
            k = pref[i, x]
            if k >= 0 and nbr[u0, k] >= 0:
                cand[m] = nbr[u0, k]
                m += 1
        return cand, m
    key = np.empty(5, dtype=np.float64)
    for k in range(5):
        v = nbr[u0, k]
        if v >= 0:
            cand[m] = v
            key[m] = dist[i, v] + np.random.random()
            m += 1
    for x in range(1, m):  # insertion sort of at most 5 candidates by (distance, random tie-break)
        y = x
        while y > 0 and key[y - 1] > key[y]:
            key[y - 1], key[y] = key[y], key[y - 1]
            cand[y - 1], cand[y] = cand[y], cand[y - 1]
            y -= 1
    return cand, m


@numba.njit(cache=True)
def _func_pibt(i, nbr, dist, goals, q_from, q_to, occ_now, occ_next, pref) -> bool:
    u0 = q_from[i]
    cand, m = _candidates(i, u0, nbr, dist, pref)
    if m == 0:  # no candidate at all (a preference list without wait): stay
        occ_next[u0] = i
        q_to[i] = u0
        return False
    partner = _swap_partner(i, cand, nbr, dist, goals, q_from, q_to, occ_now)
    if partner != -1:
        cand[:m] = cand[:m][::-1].copy()
    for x in range(m):
        v = cand[x]
        if occ_next[v] != -1:
            continue
        k = occ_now[v]
        if k != -1 and q_to[k] == u0:  # k already moves into our cell: taking its cell would swap
            continue
        occ_next[v] = i
        q_to[i] = v
        if k != -1 and v != u0 and q_to[k] == -1 and not _func_pibt(k, nbr, dist, goals, q_from, q_to, occ_now,
                                                                    occ_next, pref):
            continue
        if x == 0 and partner != -1 and q_to[partner] == -1 and occ_next[u0] == -1:
            q_to[partner] = u0  # pull the partner into the cell we leave
            occ_next[u0] = partner
        return True
    occ_next[u0] = i
    q_to[i] = u0
    return False


@numba.njit(cache=True)
def pibt_config(nbr, dist, goals, q_from, order, cons_who, cons_where, occ_now, occ_next,
                pref) -> np.ndarray:
    """Next configuration from ``q_from`` (cell per agent, ``goals`` their goal cells) with agents ``cons_who``
    forced to ``cons_where``;
    an empty array when the constraints collide or an agent cannot be placed (LaCAM's configuration generator).
    ``occ_now`` / ``occ_next`` are scratch arrays of -1 over the cells, restored on return. ``pref`` (agents, 5)
    replaces each agent's distance order with its own action order (a learned policy's collision shield)."""
    n = len(q_from)
    q_to = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        occ_now[q_from[i]] = i
    ok = True
    for k in range(len(cons_who)):
        i, v = cons_who[k], cons_where[k]
        if occ_next[v] != -1:
            ok = False
            break
        j = occ_now[v]  # swap: the agent now at v is forced into our current cell
        if j != -1 and j != i and q_to[j] == q_from[i]:
            ok = False
            break
        q_to[i] = v
        occ_next[v] = i
    if ok:
        for i in order:
            if q_to[i] == -1 and not _func_pibt(i, nbr, dist, goals, q_from, q_to, occ_now, occ_next, pref):
                ok = False
                break
    for i in range(n):
        occ_now[q_from[i]] = -1
        if q_to[i] >= 0:
            occ_next[q_to[i]] = -1
    if not ok:
        return np.empty(0, dtype=np.int64)
    return q_to


@numba.njit(cache=True)
def _pibt_oneshot(nbr, dist, q, goals, prio, steps, out) -> int:
    """Run up to ``steps`` PIBT timesteps from ``q`` (updated in place), writing configurations to ``out``;
    returns the number of steps taken, stopping early once every agent is on its goal."""
    ncell = nbr.shape[0]
    occ_now = np.full(ncell, -1, dtype=np.int64)
    occ_next = np.full(ncell, -1, dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)
    for s in range(steps):
        if np.all(q == goals):
            return s
        order = np.argsort(-prio)
        q_new = pibt_config(nbr, dist, goals, q, order, empty, empty, occ_now, occ_next, NO_PREFERENCES)
        q[:] = q_new
        out[s] = q
        for i in range(len(q)):
            prio[i] = prio[i] - np.floor(prio[i]) if q[i] == goals[i] else prio[i] + 1.0
    return steps


@numba.njit(cache=True)
def _pibt_lifelong(nbr, q, streams, horizon, out) -> None:
    """Lifelong PIBT for ``horizon`` steps; an agent on its active goal switches to the next goal of its stream
    (and, with the stream used up, keeps its last goal)."""
    n = len(q)
    ncell = nbr.shape[0]
    k = np.zeros(n, dtype=np.int64)
    goals = streams[:, 0].copy()
    dist = bfs_many(nbr, goals.astype(np.int32))
    prio = np.zeros(n)
    occ_now = np.full(ncell, -1, dtype=np.int64)
    occ_next = np.full(ncell, -1, dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)
    out[0] = q
    for t in range(horizon + 1):
        for i in range(n):  # advance every agent standing on its active goal
            changed = False
            while k[i] < streams.shape[1] and q[i] == streams[i, k[i]]:
                k[i] += 1
                changed = True
            if changed and k[i] < streams.shape[1]:
                goals[i] = streams[i, k[i]]
                dist[i] = bfs_many(nbr, goals[i:i + 1].astype(np.int32))[0]
                prio[i] = prio[i] - np.floor(prio[i])
        if t == horizon:
            break
        order = np.argsort(-prio)
        q[:] = pibt_config(nbr, dist, goals, q, order, empty, empty, occ_now, occ_next, NO_PREFERENCES)
        out[t + 1] = q
        for i in range(n):
            prio[i] += 1.0


def initial_priorities(dist: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """PIBT's initial priorities: distance to goal scaled into [0, 1), so farther agents go first."""
    d = dist[np.arange(len(starts)), starts].astype(np.float64)
    return d / (d.max(initial=0.0) + 1.0)


def _oneshot(instance, time_limit: float, seed: int, max_steps: int | None):
    start = time.perf_counter()
    grid = instance.grid
    w = grid.shape[1]
    nbr = neighbor_table(grid)
    starts, goals = to_ids(instance.starts, w), to_ids(instance.goals, w)
    dist = bfs_many(nbr, goals.astype(np.int32))
    _seed(seed)
    q = starts.astype(np.int64).copy()
    prio = initial_priorities(dist, starts)
    max_steps = max_steps or 4 * (grid.size + len(q))
    configs = [q.copy()]
    chunk = 64
    while len(configs) - 1 < max_steps and time.perf_counter() - start < time_limit:
        out = np.empty((chunk, len(q)), dtype=np.int64)
        done = _pibt_oneshot(nbr, dist, q, goals.astype(np.int64), prio, chunk, out)
        configs.extend(out[:done])
        if done < chunk:
            paths = to_positions(np.stack(configs, axis=1), w)
            return paths, {"steps": len(configs) - 1}
    return None, {"steps": len(configs) - 1, "reason": "not every agent reached its goal in time"}


def _lifelong(instance, seed: int):
    w = instance.grid.shape[1]
    nbr = neighbor_table(instance.grid)
    _seed(seed)
    q = to_ids(instance.starts, w).astype(np.int64)
    out = np.empty((instance.horizon + 1, len(q)), dtype=np.int64)
    _pibt_lifelong(nbr, q, to_ids(instance.goal_streams, w).astype(np.int64), instance.horizon, out)
    return to_positions(out.T, w), {}


def prepare_pibt(instance) -> None:
    """Compile the numba kernels (grid tables, BFS, PIBT steps) on a 2x2 instance of the same kind."""
    grid = np.zeros((2, 2), dtype=bool)
    if instance.problem == "mapf-lifelong":
        _lifelong(MAPFLifelongInstance(grid, [(0, 0)], [[(1, 1), (0, 0)]], horizon=3), 0)
    else:
        _oneshot(MAPFInstance(grid, [(0, 0)], [(1, 1)]), 5.0, 0, None)


def solve_pibt(instance, time_limit: float = 10.0, seed: int = 0, max_steps: int | None = None):
    """PIBT paths (agents, T+1, 2). One-shot: until every agent is on its goal (None if ``max_steps`` or the
    time limit comes first). Lifelong: the instance's horizon."""
    if instance.num_agents == 0:
        return np.zeros((0, 1 if instance.problem == "mapf" else instance.horizon + 1, 2), dtype=np.int64), {}
    if instance.problem == "mapf-lifelong":
        return _lifelong(instance, seed)
    return _oneshot(instance, time_limit, seed, max_steps)
