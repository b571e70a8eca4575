"""Compiled tour operations on the array representation (``tour`` + its inverse ``pos``).

A k-opt move is built, Lin-Kernighan style, as a chain of 2-opt flips: with t2 next to t1, pick t3,
let t4 be t3's neighbour on the side that keeps one cycle, then swap edges (t1, t2), (t3, t4) for
(t2, t3), (t1, t4). After each flip the tour is a valid cycle whose edge (t1, t4) is the one the next
step breaks, so every depth of the chain is itself a closed tour (a sequential k-opt move).
Segments are reversed on the shorter side, so a flip costs at most n / 2 swaps.

``local_search`` is the library's one tour local search (2-opt + Or-opt over sorted neighbour lists with
don't-look bits): the ``2opt`` baseline and the MCTS restarts both call it. Candidate and neighbour rows may be
padded with -1 at the end (the quadrant-widened lists of ``ncosolve.search.candidates``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ncosolve.search.metric import edge_length


@njit(cache=True)
def seed_rng(seed: int) -> None:
    """Seed the compiled kernels' random generator (numba keeps its own, per process)."""
    np.random.seed(seed)


@njit(cache=True)
def succ(tour: np.ndarray, pos: np.ndarray, c: int) -> int:
    """The city after ``c``."""
    p = pos[c] + 1
    return tour[0] if p == tour.shape[0] else tour[p]


@njit(cache=True)
def pred(tour: np.ndarray, pos: np.ndarray, c: int) -> int:
    """The city before ``c``."""
    p = pos[c]
    return tour[tour.shape[0] - 1] if p == 0 else tour[p - 1]


@njit(cache=True)
def reverse_positions(tour: np.ndarray, pos: np.ndarray, i: int, j: int) -> None:
    """Reverse the cyclic stretch of positions i..j, or its complement when shorter (same cycle).

    Calling it again with the same (i, j) undoes it.
    """
    n = tour.shape[0]
    length = (j - i) % n + 1
    if 2 * length > n:
        i, j = (j + 1) % n, (i - 1) % n
        length = n - length
    for s in range(length // 2):
        a = i + s
        if a >= n:
            a -= n
        b = j - s
        if b < 0:
            b += n
        ca = tour[a]
        cb = tour[b]
        tour[a] = cb
        pos[cb] = a
        tour[b] = ca
        pos[ca] = b


@njit(cache=True)
def flip_partner(tour: np.ndarray, pos: np.ndarray, t1: int, t2: int, t3: int) -> tuple[int, int, int]:
    """For adjacent (t1, t2) and a new partner t3 of t2: ``(t4, i, j)`` — t3's neighbour that keeps one
    cycle, and the positions whose reversal performs the flip. t4 == t2 marks a degenerate choice."""
    if succ(tour, pos, t1) == t2:
        t4 = pred(tour, pos, t3)
        return t4, pos[t2], pos[t4]
    t4 = succ(tour, pos, t3)
    return t4, pos[t4], pos[t2]


@njit(cache=True)
def find_slot(cand: np.ndarray, u: int, v: int) -> int:
    """Column of v in u's candidate list, or -1."""
    for s in range(cand.shape[1]):
        if cand[u, s] == v:
            return s
    return -1


@njit(cache=True)
def reinforce(W: np.ndarray, Q: np.ndarray, cand: np.ndarray, u: int, v: int, amount: float) -> None:
    """Add ``amount`` to W and one visit to Q for edge (u, v), in both rows where it is a candidate."""
    s = find_slot(cand, u, v)
    if s >= 0:
        W[u, s] += amount
        Q[u, s] += 1.0
    s = find_slot(cand, v, u)
    if s >= 0:
        W[v, s] += amount
        Q[v, s] += 1.0


@njit(cache=True)
def sample_tour(tour: np.ndarray, pos: np.ndarray, cand: np.ndarray, W: np.ndarray, nbr: np.ndarray,
                pts: np.ndarray, mat: np.ndarray, mode: int) -> None:
    """Build a tour from a random start, picking each next city among the current city's unvisited
    candidates with probability proportional to its weight W (clipped at 0). With no positive-weight
    candidate left: the nearest unvisited of the k nearest, else the nearest unvisited overall."""
    n = tour.shape[0]
    m = cand.shape[1]
    unvisited = np.arange(n)  # unvisited[:left] are the cities not yet placed
    where = np.arange(n)
    left = n
    cur = np.random.randint(n)
    for step in range(n):
        tour[step] = cur
        pos[cur] = step
        k = where[cur]
        last = unvisited[left - 1]
        unvisited[k] = last
        where[last] = k
        left -= 1
        if left == 0:
            break
        total = 0.0
        for s in range(m):
            c = cand[cur, s]
            if c >= 0 and where[c] < left and unvisited[where[c]] == c and W[cur, s] > 0.0:
                total += W[cur, s]
        nxt = -1
        if total > 0.0:
            r = np.random.random() * total
            for s in range(m):
                c = cand[cur, s]
                if c >= 0 and where[c] < left and unvisited[where[c]] == c and W[cur, s] > 0.0:
                    nxt = c
                    r -= W[cur, s]
                    if r <= 0.0:
                        break
        if nxt < 0:
            for s in range(nbr.shape[1]):
                c = nbr[cur, s]
                if where[c] < left and unvisited[where[c]] == c:
                    nxt = c
                    break
        if nxt < 0:
            best = np.inf
            for q in range(left):
                c = unvisited[q]
                d = edge_length(cur, c, pts, mat, mode)
                if d < best:
                    best = d
                    nxt = c
        cur = nxt


@njit(cache=True)
def double_bridge(tour: np.ndarray, pos: np.ndarray, window: int) -> np.ndarray:
    """Random local double-bridge kick: segments B, C of a stretch A B C D (at most ``window`` cities
    from a random position) are swapped to A C B D. Returns the 8 cities whose edges changed."""
    n = tour.shape[0]
    w = min(window, n - 1)
    start = np.random.randint(n)
    cuts = np.sort(np.random.choice(np.arange(1, w), 2, replace=False))
    b, c = cuts[0], cuts[1]
    stretch = np.empty(w, dtype=np.int64)
    for q in range(w):
        stretch[q] = tour[(start + q) % n]
    ends = np.array([tour[(start - 1) % n], stretch[0], stretch[b - 1], stretch[b], stretch[c - 1], stretch[c],
                     stretch[w - 1], tour[(start + w) % n]])
    q = 0
    for part in ((b, c), (0, b), (c, w)):
        for r in range(part[0], part[1]):
            p = (start + q) % n
            tour[p] = stretch[r]
            pos[stretch[r]] = p
            q += 1
    return ends


@njit(cache=True)
def move_segment(tour: np.ndarray, pos: np.ndarray, buf: np.ndarray, ps: int, s: int, u: int, rev: bool) -> None:
    """Move the ``s`` cities at positions ``ps``.. to between ``u`` and its successor (reversed if ``rev``),
    rotating whichever side of the cycle is shorter (``buf`` holds at least ``s`` cities)."""
    n = tour.shape[0]
    for t in range(s):
        buf[t] = tour[(ps + t) % n]
    span_after = (pos[u] - ps) % n + 1  # the segment, then the cities up to u
    span_before = n + s - span_after  # the cities from succ(u) up to the segment, then the segment
    if span_after <= span_before:
        for t in range(span_after - s):
            tour[(ps + t) % n] = tour[(ps + s + t) % n]
        first, length, start = (ps + span_after - s) % n, span_after, ps
    else:
        start = (ps + s - span_before) % n
        for t in range(span_before - s - 1, -1, -1):
            tour[(start + s + t) % n] = tour[(start + t) % n]
        first, length = start, span_before
    for t in range(s):
        tour[(first + t) % n] = buf[s - 1 - t] if rev else buf[t]
    for t in range(length):
        p = (start + t) % n
        pos[tour[p]] = p


@njit(cache=True)
def or_opt_delta(tour: np.ndarray, pos: np.ndarray, ps: int, s: int, c: int, side: int, end: int, symmetric: bool,
                 pts: np.ndarray, mat: np.ndarray, mode: int) -> tuple[float, int, bool]:
    """Change in length when the ``s`` cities from position ``ps`` move next to city ``c`` so that the segment's
    first (``end`` 0) or last (1) city a lands right after c (``side`` 0) or right before c (1):
    ``(delta, u, rev)`` for ``move_segment(.., u, rev)``; delta is inf when the move is not possible (c's edge
    touches the segment, or it needs a reversal on an asymmetric instance)."""
    n = tour.shape[0]
    u = c if side == 0 else pred(tour, pos, c)
    v = succ(tour, pos, c) if side == 0 else c
    if (pos[u] - ps) % n < s or (pos[v] - ps) % n < s:
        return np.inf, u, False  # the target edge touches the segment
    rev = s > 1 and side != end
    if rev and not symmetric:
        return np.inf, u, False
    f, last = tour[ps], tour[(ps + s - 1) % n]
    p, q = tour[(ps - 1) % n], tour[(ps + s) % n]
    x, y = (last, f) if rev else (f, last)
    removed = edge_length(p, f, pts, mat, mode) + edge_length(last, q, pts, mat, mode) - edge_length(p, q, pts, mat, mode)
    added = edge_length(u, x, pts, mat, mode) + edge_length(y, v, pts, mat, mode) - edge_length(u, v, pts, mat, mode)
    return added - removed, u, rev


@njit(cache=True)
def _improve_city(a, tour, pos, nbr, buf, touched, pts, mat, mode, symmetric, or_opt, prune, eps, gain):
    """Apply the first improving 2-opt or (``or_opt``) Or-opt move that adds an edge at city ``a``.

    Returns how many cities it touched (written to ``touched``; 0: no move); ``gain[0]`` = the move's delta and
    ``touched[6:12]`` its added edges as pairs (2-opt: two, Or-opt: three). ``nbr`` rows are sorted by length,
    padded with -1. ``prune``: Or-opt only tries cities c with d(a, c) below the length the segment's removal
    saves (the gain criterion; faster, but not a full Or-opt local optimum).
    """
    n = tour.shape[0]
    if symmetric:
        for direction in range(2):
            b = succ(tour, pos, a) if direction == 0 else pred(tour, pos, a)
            d_ab = edge_length(a, b, pts, mat, mode)
            for c in nbr[a]:
                if c < 0:
                    break
                d_ac = edge_length(a, c, pts, mat, mode)
                if d_ac >= d_ab - eps:
                    break  # lists are sorted: no later c shortens (a, b)
                d = succ(tour, pos, c) if direction == 0 else pred(tour, pos, c)
                if c == b or d == a:
                    continue
                delta = d_ac + edge_length(b, d, pts, mat, mode) - d_ab - edge_length(c, d, pts, mat, mode)
                if delta < -eps:
                    if direction == 0:
                        reverse_positions(tour, pos, pos[b], pos[c])
                    else:
                        reverse_positions(tour, pos, pos[a], pos[d])
                    touched[0], touched[1], touched[2], touched[3] = a, b, c, d
                    touched[6], touched[7], touched[8], touched[9] = a, c, b, d
                    touched[10], touched[11] = -1, -1
                    gain[0] = delta
                    return 4
    if not or_opt:
        return 0
    for s in range(1, 4):
        if s + 2 > n:
            break
        for end in range(2 if s > 1 else 1):  # a first (0) or last (1) city of the segment
            ps = pos[a] if end == 0 else (pos[a] - s + 1) % n
            f, last = tour[ps], tour[(ps + s - 1) % n]
            p, q = tour[(ps - 1) % n], tour[(ps + s) % n]
            removed = (edge_length(p, f, pts, mat, mode) + edge_length(last, q, pts, mat, mode)
                       - edge_length(p, q, pts, mat, mode))
            for c in nbr[a]:
                if c < 0:
                    break
                if prune and edge_length(a, c, pts, mat, mode) >= removed - eps:
                    break
                for side in range(2):  # a lands right after c (0) or right before c (1)
                    delta, u, rev = or_opt_delta(tour, pos, ps, s, c, side, end, symmetric, pts, mat, mode)
                    if delta < -eps:
                        v = succ(tour, pos, u)
                        x, y = (last, f) if rev else (f, last)
                        move_segment(tour, pos, buf, ps, s, u, rev)
                        touched[0], touched[1], touched[2] = p, q, u
                        touched[3], touched[4], touched[5] = v, f, last
                        touched[6], touched[7], touched[8], touched[9] = u, x, y, v
                        touched[10], touched[11] = p, q
                        gain[0] = delta
                        return 6
    return 0


@njit(cache=True)
def local_search(tour: np.ndarray, pos: np.ndarray, nbr: np.ndarray, queue: np.ndarray, active: np.ndarray,
                 state: np.ndarray, pts: np.ndarray, mat: np.ndarray, mode: int, symmetric: bool, or_opt: bool,
                 prune: bool, eps: float, max_moves: int, length: float, W: np.ndarray, Q: np.ndarray,
                 cand: np.ndarray, beta: float) -> tuple[int, bool, float]:
    """2-opt (symmetric instances) and Or-opt (segments of 1-3 cities, reversed where symmetric) over the
    neighbour lists ``nbr`` with a queue of active cities (don't-look bits): pop a city, apply the first
    improving move that adds an edge at it, queue the cities the move touched; until the queue empties (a local
    optimum over the lists) or ``max_moves`` moves were made. The one tour local search of the library: the
    ``2opt`` baseline (``ncosolve.baselines.local_search``) and the MCTS restarts both run it.

    ``queue`` (n) / ``active`` (n bools) / ``state`` = [head, size] carry the queue across calls. With
    ``beta > 0`` each move's added edges are reinforced in W / Q (``cand`` rows) by beta * (exp(-delta / L) - 1)
    like an improving search action (``length`` = L at the start). Returns ``(moves, local optimum reached,
    new length)``.
    """
    n = tour.shape[0]
    buf = np.empty(3, dtype=tour.dtype)
    touched = np.empty(12, dtype=tour.dtype)
    gain = np.zeros(1)
    head, size = state[0], state[1]
    moves = 0
    while size > 0 and moves < max_moves:
        a = queue[head]
        head = (head + 1) % n
        size -= 1
        active[a] = False
        count = _improve_city(a, tour, pos, nbr, buf, touched, pts, mat, mode, symmetric, or_opt, prune, eps, gain)
        if count:
            moves += 1
            if beta > 0.0 and length > 0.0:
                amount = beta * (np.exp(-gain[0] / length) - 1.0)
                for e in range(3):
                    if touched[6 + 2 * e] >= 0:
                        reinforce(W, Q, cand, touched[6 + 2 * e], touched[7 + 2 * e], amount)
            length += gain[0]
            for t in range(count):
                c = touched[t]
                if not active[c]:
                    active[c] = True
                    queue[(head + size) % n] = c
                    size += 1
    state[0], state[1] = head, size
    return moves, size == 0, length
