"""Compiled tour operations on the array representation (``tour`` + its inverse ``pos``).

A k-opt move is built, Lin-Kernighan style, as a chain of 2-opt flips: with t2 next to t1, pick t3,
let t4 be t3's neighbour on the side that keeps one cycle, then swap edges (t1, t2), (t3, t4) for
(t2, t3), (t1, t4). After each flip the tour is a valid cycle whose edge (t1, t4) is the one the next
step breaks, so every depth of the chain is itself a closed tour (a sequential k-opt move).
Segments are reversed on the shorter side, so a flip costs at most n / 2 swaps.
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
            if where[c] < left and unvisited[where[c]] == c and W[cur, s] > 0.0:
                total += W[cur, s]
        nxt = -1
        if total > 0.0:
            r = np.random.random() * total
            for s in range(m):
                c = cand[cur, s]
                if where[c] < left and unvisited[where[c]] == c and W[cur, s] > 0.0:
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
def two_opt(tour: np.ndarray, pos: np.ndarray, nbr: np.ndarray, cand: np.ndarray, W: np.ndarray,
            Q: np.ndarray, pts: np.ndarray, mat: np.ndarray, mode: int, beta: float, length: float,
            eps: float, max_moves: int, start_nodes: np.ndarray) -> tuple[float, int]:
    """2-opt with neighbour lists and a work queue (first filled with ``start_nodes``), at most
    ``max_moves`` improving moves.

    Each move adds edges (t2, t3) and (t1, t4) and is reinforced in W/Q like an improving search action.
    Returns ``(new length, moves made)``; fewer than ``max_moves`` moves means no queued city improves.
    """
    n = tour.shape[0]
    queue = np.empty(n, dtype=np.int64)
    queued = np.zeros(n, dtype=np.bool_)
    size = 0
    for c in start_nodes:
        if not queued[c]:
            queue[size] = c
            queued[c] = True
            size += 1
    head = 0
    moves = 0
    while size > 0 and moves < max_moves:
        t1 = queue[head]
        head = (head + 1) % n
        size -= 1
        queued[t1] = False
        improved = False
        for direction in range(2):
            t2 = succ(tour, pos, t1) if direction == 0 else pred(tour, pos, t1)
            d12 = edge_length(t1, t2, pts, mat, mode)
            for r in range(nbr.shape[1]):
                t3 = nbr[t2, r]
                d23 = edge_length(t2, t3, pts, mat, mode)
                if d23 >= d12:
                    break
                if t3 == t1:
                    continue
                t4, i, j = flip_partner(tour, pos, t1, t2, t3)
                if t4 == t2:
                    continue
                delta = d23 + edge_length(t1, t4, pts, mat, mode) - d12 - edge_length(t3, t4, pts, mat, mode)
                if delta < -eps:
                    reverse_positions(tour, pos, i, j)
                    gain = np.exp(-delta / length) - 1.0
                    reinforce(W, Q, cand, t2, t3, beta * gain)
                    reinforce(W, Q, cand, t1, t4, beta * gain)
                    length += delta
                    moves += 1
                    for c in (t1, t2, t3, t4):
                        if not queued[c]:
                            queue[(head + size) % n] = c
                            size += 1
                            queued[c] = True
                    improved = True
                    break
            if improved:
                break
    return length, moves
