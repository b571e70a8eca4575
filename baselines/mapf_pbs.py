"""Windowed priority-based search (PBS; Ma et al., AAAI 2019) as rolling-horizon planners use it (RHCR; Li et
al., AAAI 2021): every agent gets a ``W``-step space-time path toward a target cell, and PBS searches the agents'
priority order (depth first, cheaper child first) until the paths collide nowhere in the window.

The kernels work on a neighbour table (``problems.mapf.neighbor_table``: column 0 waits) and cell ids. A path is
``W + 1`` cells from time 0; an agent that reaches its goal inside the window either stays there (one-shot MAPF)
or leaves the plan (-1 from the next step: lifelong MAPF, where a new goal appears on arrival).
"""

from __future__ import annotations

import numba
import numpy as np

UNREACHABLE = 1e9  # the distance scored for a target the agent cannot reach (``h`` < 0)
SHARED = -2  # an ``occ`` cell that several higher agents hold at once


@numba.njit(cache=True)
def _table(paths: np.ndarray, a: int, higher: np.ndarray, occ: np.ndarray, cat: np.ndarray, sign: int) -> None:
    """Add (``sign`` 1) or remove (-1) the other agents' paths: higher agents' cells in ``occ`` (their id, or
    ``SHARED`` where several higher agents meet; hard constraints), the rest counted in ``cat`` (soft)."""
    for b in range(paths.shape[0]):
        if b == a:
            continue
        for t in range(paths.shape[1]):
            v = paths[b, t]
            if v < 0:
                break
            if higher[b]:
                occ[t, v] = -1 if sign < 0 else (b if occ[t, v] == -1 else SHARED)
            else:
                cat[t, v] += sign


@numba.njit(cache=True)
def _goal_free(occ: np.ndarray, g: int, t: int) -> bool:
    """No higher agent enters cell ``g`` after time ``t`` within the window (so an agent can stay there)."""
    for x in range(t + 1, occ.shape[0]):
        if occ[x, g] != -1:
            return False
    return True


@numba.njit(cache=True)
def _swaps(b: int, u: int, v: int, t: int, paths: np.ndarray, higher: np.ndarray) -> bool:
    """A move from ``u`` to ``v`` at time ``t`` swaps cells with a higher agent (``b``: the one ``occ`` holds at
    ``v`` at ``t - 1``; with ``SHARED`` every higher agent is checked)."""
    if b >= 0:
        return paths[b, t] == u
    if b == SHARED:
        for x in range(paths.shape[0]):
            if higher[x] and paths[x, t - 1] == v and paths[x, t] == u:
                return True
    return False


@numba.njit(cache=True)
def _sweep(s: int, g: int, hrow: np.ndarray, hg: np.ndarray, band: int, nbr: np.ndarray, paths: np.ndarray,
           higher: np.ndarray, stay: bool, ws: tuple) -> tuple:
    """Layered space-time sweep from cell ``s`` at time 0 until ``g`` is reached or the window ends, with the
    tables of ``_table`` filled: (arrival time or -1, last layer reached). With ``band`` >= 0 it keeps only
    states that have lost at most ``band`` steps toward the target of ``hrow`` or can still reach ``g`` (goal
    distances ``hg``) in the window."""
    occ, cat, sc, par, mark, layer, cnt, token = ws[0], ws[1], ws[2], ws[3], ws[4], ws[5], ws[6], ws[7]
    token[0] += 1
    tok = token[0]
    W = paths.shape[1] - 1
    layer[0, 0] = s
    cnt[0] = 1
    mark[0, s], sc[0, s], par[0, s] = tok, 0, -1
    found, last = -1, 0
    if s == g and (not stay or _goal_free(occ, g, 0)):
        found = 0
    hs, reach = hrow[s], 0 <= hg[s] <= W
    t = 1
    while found < 0 and t <= W:
        c = 0
        for i in range(cnt[t - 1]):
            u = layer[t - 1, i]
            for k in range(5):
                v = nbr[u, k]
                if v < 0 or occ[t, v] != -1:
                    continue
                if band >= 0 and t - (hs - hrow[v]) > band and not (reach and 0 <= hg[v] <= W - t):
                    continue
                if k != 0 and _swaps(occ[t - 1, v], u, v, t, paths, higher):
                    continue
                cand = sc[t - 1, u] + cat[t, v]
                if mark[t, v] != tok:
                    mark[t, v], sc[t, v], par[t, v] = tok, cand, u
                    layer[t, c] = v
                    c += 1
                elif cand < sc[t, v] or (cand == sc[t, v] and hrow[u] < hrow[par[t, v]]):
                    sc[t, v], par[t, v] = cand, u
        cnt[t] = c
        if c == 0:
            break
        last = t
        if mark[t, g] == tok and (not stay or _goal_free(occ, g, t)):
            found = t
        t += 1
    return found, last


@numba.njit(cache=True)
def _window_end(hrow: np.ndarray, W: int, ws: tuple) -> int:
    """The cell of the sweep's last layer nearest the target (fewest soft collisions among ties)."""
    sc, layer, cnt = ws[2], ws[5], ws[6]
    end, best, best_sc = -1, np.inf, 1 << 62
    for i in range(cnt[W]):
        v = layer[W, i]
        if hrow[v] < best or (hrow[v] == best and sc[W, v] < best_sc):
            end, best, best_sc = v, hrow[v], sc[W, v]
    return end


@numba.njit(cache=True)
def plan_agent(a: int, nbr: np.ndarray, start: np.ndarray, goal: np.ndarray, h: np.ndarray, hg: np.ndarray,
               paths: np.ndarray, higher: np.ndarray, stay: bool, ws: tuple, band: int) -> float:
    """Space-time search for agent ``a``: no vertex or swap collision with the agents ``higher`` marks, fewest
    collisions with the others. Cost: the arrival time at ``goal[a]``, or ``W + h[a, end]`` for a path that does
    not arrive; among equal costs, fewest soft collisions, then progress early (waits late). With ``band`` >= 0
    the sweep first keeps to paths that lose at most ``band`` steps (or can still arrive: ``hg[a]``, distances to
    the goal) and widens only when that cannot prove its answer optimal, so the path is the same. Writes
    ``paths[a]`` and returns the cost, or -1 when every path is blocked."""
    occ, cat = ws[0], ws[1]
    W = paths.shape[1] - 1
    s, g = start[a], goal[a]
    _table(paths, a, higher, occ, cat, 1)
    found, last = _sweep(s, g, h[a], hg[a], band, nbr, paths, higher, stay, ws)
    end = -1
    if found < 0 and last == W:
        end = _window_end(h[a], W, ws)
    if band >= 0 and found < 0 and (end < 0 or W - (h[a, s] - h[a, end]) > band):  # the band may hide the answer
        found, last = _sweep(s, g, h[a], hg[a], -1, nbr, paths, higher, stay, ws)
        if found < 0 and last == W:
            end = _window_end(h[a], W, ws)
    _table(paths, a, higher, occ, cat, -1)
    if found < 0 and last < W:
        return -1.0
    if found >= 0:
        end, tend, cost = g, found, float(found)
    else:
        tend, cost = W, W + (h[a, end] if h[a, end] >= 0 else UNREACHABLE)
    paths[a, :] = -1
    if stay:
        paths[a, tend:] = end
    par = ws[3]
    v = end
    for x in range(tend, -1, -1):
        paths[a, x] = v
        v = par[x, v]
    return cost


@numba.njit(cache=True)
def collision_time(paths: np.ndarray, a: int, b: int) -> int:
    """The first time agents ``a`` and ``b`` share a cell or swap cells on their paths, or -1."""
    for t in range(1, paths.shape[1]):
        pa, pb = paths[a, t], paths[b, t]
        if pa < 0 or pb < 0:
            return -1
        if pa == pb or (pa == paths[b, t - 1] and pb == paths[a, t - 1]):
            return t
    return -1


@numba.njit(cache=True)
def _first_collision(paths: np.ndarray, prev: np.ndarray, cur: np.ndarray) -> tuple:
    """(time, a, b) with a < b of the earliest collision (vertex or swap) of all agent pairs, the
    lexicographically smallest pair at that time, or (-1, -1, -1); one pass over time with cell tables."""
    n, T = paths.shape
    for a in range(n):
        prev[paths[a, 0]] = a
    for t in range(1, T):
        ba, bb = n, n
        for a in range(n):
            v = paths[a, t]
            if v < 0:
                continue
            b = cur[v]  # cleared after every time step, so an entry is an agent on v now
            if b >= 0:
                if b < ba or (b == ba and a < bb):
                    ba, bb = b, a
            else:
                cur[v] = a
            u = paths[a, t - 1]
            if u != v:
                c = prev[v]
                if c >= 0 and c != a and paths[c, t - 1] == v and paths[c, t] == u:
                    lo, hi = min(a, c), max(a, c)
                    if lo < ba or (lo == ba and hi < bb):
                        ba, bb = lo, hi
        if ba < n:
            for a in range(n):
                if paths[a, t - 1] >= 0:
                    prev[paths[a, t - 1]] = -1
                if paths[a, t] >= 0:
                    cur[paths[a, t]] = -1
            return t, ba, bb
        for a in range(n):
            u = paths[a, t - 1]
            if u >= 0 and prev[u] == a:
                prev[u] = -1
        for a in range(n):
            v = paths[a, t]
            if v >= 0:
                prev[v] = a
                cur[v] = -1
    for a in range(n):
        if paths[a, T - 1] >= 0:
            prev[paths[a, T - 1]] = -1
    return -1, -1, -1


@numba.njit(cache=True)
def _branch(paths: np.ndarray, higher: np.ndarray, cost: np.ndarray, hi: int, lo: int, nbr: np.ndarray,
            start: np.ndarray, goal: np.ndarray, h: np.ndarray, hg: np.ndarray, stay: bool, ws: tuple,
            band: int) -> bool:
    """Give ``hi`` priority over ``lo`` (and over everything below ``lo``), then replan ``lo`` and, in
    topological order, every agent below it that now collides with one above it; False if one cannot move.
    Every path already avoids the agents that were above it, so only the new ones and the replanned ones are
    checked."""
    n = len(start)
    below = np.zeros(n, dtype=np.int64)
    fresh = np.zeros((n, n), dtype=np.bool_)  # fresh[c, b]: b is above c only from now on
    m = 0
    for c in range(n):
        if c == lo or higher[c, lo]:
            for b in range(n):
                if (higher[hi, b] or b == hi) and not higher[c, b]:
                    fresh[c, b] = higher[c, b] = True
            below[m] = c
            m += 1
    keys = np.empty(m, dtype=np.int64)
    for i in range(m):
        keys[i] = higher[below[i]].sum()
    moved = np.zeros(n, dtype=np.bool_)
    for i in np.argsort(keys, kind="mergesort"):
        c = below[i]
        need = c == lo
        b = 0
        while not need and b < n:
            need = higher[c, b] and (fresh[c, b] or moved[b]) and collision_time(paths, c, b) > 0
            b += 1
        if need:
            cost[c] = plan_agent(c, nbr, start, goal, h, hg, paths, higher[c], stay, ws, band)
            if cost[c] < 0:
                return False
            moved[c] = True
    return True


def workspace(cells: int, window: int, agents: int, max_nodes: int) -> tuple:
    """Scratch arrays of ``pbs_window``, made once per map and team: the sweep's tables for ``cells`` cells and a
    ``window``-step horizon, the depth-first node stack for ``agents`` agents and ``max_nodes`` expansions (a
    fresh stack on every call cost more than the search itself at 96 agents), the collision scan's cell tables."""
    shape, depth = (window + 1, cells), max_nodes + 2
    return (np.full(shape, -1, dtype=np.int64), np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64),
            np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64),
            np.zeros(window + 1, dtype=np.int64), np.zeros(1, dtype=np.int64),
            np.empty((depth, agents, window + 1), dtype=np.int64), np.empty((depth, agents, agents), dtype=np.bool_),
            np.empty((depth, agents), dtype=np.float64), np.full(cells, -1, dtype=np.int64),
            np.full(cells, -1, dtype=np.int64))


@numba.njit(cache=True)
def pbs_window(nbr: np.ndarray, start: np.ndarray, goal: np.ndarray, h: np.ndarray, hg: np.ndarray, window: int,
               max_nodes: int, stay: bool, ws: tuple, prior: np.ndarray, band: int = 2) -> tuple:
    """Collision-free ``window``-step paths (agents, window + 1) for agents at cells ``start`` aiming at
    ``goal`` (``h[a]``: agent a's distance-to-target table for paths that do not arrive; ``hg[a]``: its distances
    to the goal, which only narrow the search: ``band``, see ``plan_agent``; both -1 where unreachable), by
    depth-first PBS over at most ``max_nodes`` expanded nodes, starting from the priorities ``prior`` ((agents,
    agents) bool, ``prior[a, b]``: b goes before a; transitive and acyclic); (paths, True), or the root's paths
    (each agent planned alone, avoiding the others softly) and False when the budget runs out or every order
    fails."""
    n = len(start)
    P, H, C, seen_prev, seen_cur = ws[8], ws[9], ws[10], ws[11], ws[12]
    if P.shape[0] < max_nodes + 2 or P.shape[1] != n or P.shape[2] != window + 1:
        raise ValueError("the workspace was made for another team size, window or node budget")
    P[0] = -1
    P[0, :, 0] = start
    H[0] = prior
    for a in np.argsort(prior.sum(axis=1), kind="mergesort"):
        C[0, a] = plan_agent(a, nbr, start, goal, h, hg, P[0], H[0, a], stay, ws, band)
        if C[0, a] < 0:  # the given priorities leave it no move
            return P[0].copy(), False
    root = P[0].copy()
    top, expanded = 1, 0
    while top > 0:
        top -= 1
        parent_p, parent_h, parent_c = P[top].copy(), H[top].copy(), C[top].copy()
        t, a, b = _first_collision(parent_p, seen_prev, seen_cur)
        if t < 0:
            return parent_p, True
        expanded += 1
        if expanded > max_nodes:
            break
        slot, kept, kept_cost = top, 0, np.inf
        for hi, lo in ((a, b), (b, a)):
            if parent_h[hi, lo]:
                continue
            P[slot], H[slot], C[slot] = parent_p, parent_h, parent_c
            if not _branch(P[slot], H[slot], C[slot], hi, lo, nbr, start, goal, h, hg, stay, ws, band):
                continue
            total = C[slot].sum()
            if kept == 1 and total > kept_cost:  # the cheaper child goes on top of the stack
                P[slot - 1], P[slot] = P[slot].copy(), P[slot - 1].copy()
                H[slot - 1], H[slot] = H[slot].copy(), H[slot - 1].copy()
                C[slot - 1], C[slot] = C[slot].copy(), C[slot - 1].copy()
            kept_cost = total if kept == 0 else kept_cost
            kept += 1
            slot += 1
        top = slot
    return root, False
