"""Heatmap-guided Monte Carlo tree search over k-opt moves (the Att-GCN / DIMES / DIFUSCO search).

Written from the published description (Fu et al. AAAI 2021; Qiu et al. 2022; Sun & Yang 2023;
Xia et al. 2024), compiled with numba, on sparse candidate lists:

1. Each city keeps ``m`` candidate edges (the hottest of its k nearest, or the m nearest), plus its
   ``quadrant`` nearest cities in each quadrant around it and its ``alpha_nearness`` alpha-nearest cities
   that are not among them (on clustered instances the k nearest never leave the cluster); W (edge weight)
   starts at 100 x the symmetrized heat (additions: the row's smallest), Q (edge visits) at 0, M (actions) at 0.
2. A restart samples a tour city by city with probability proportional to W, then runs the shared local
   search (``tour_ops.local_search``: 2-opt, and Or-opt with ``local_or_opt``) over the k nearest and the
   added candidates.
3. An action is a sequential k-opt move: t1 random, t2 a tour neighbour, then up to ``max_depth``
   times a new partner t3 of t2 is sampled among t2's candidates with probability proportional to
   Z = W / Omega + alpha * sqrt(ln(M + 1) / (Q + 1)), Omega = mean W of t2's candidates; the chain
   stops and is kept as soon as the closed tour is shorter. A share ``or_opt`` of the actions are Or-opt
   actions instead: a segment of 1-3 cities at a random city a moves next to a candidate of a sampled by
   the same Z, kept when shorter.
4. Every action back-propagates into W the gain beta * (exp((L - L') / L) - 1) on the edges it
   added (L' the length it reached), counts a visit in Q and one action in M; non-improving actions
   are undone.
5. After ``restart_factor * n`` actions in a row without improvement the search restarts (W, Q, M
   kept); the best tour over restarts is returned when the time or action budget ends. The published
   restart samples a new tour (``restart="sample"``); the default here (``restart="kick"``) restarts
   from the best tour after a local double-bridge kick, which did clearly better on generated instances
   (a share ``wide_kicks`` of the kicks may span the whole tour, which reorders far-apart clusters).

numba cannot read the clock, so ``run_actions`` does bounded chunks and Python checks the time in
between. Nothing is O(n^2): tour, pos (n), candidate lists, W, Q (n, m), neighbour lists (n, k).
The first call ever compiles the kernels (about 5 s on the 2-core dev machine), cached on disk by
``cache=True``; later processes load them in about 0.4 s on their first call (``warm_up()`` does it
before any budget starts).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ncosolve.errors import NcoError
from ncosolve.search.candidates import (
    alpha_neighbours, drop_known, nearest_neighbours, quadrant_neighbours, widen_lists,
)
from ncosolve.search.heatmaps import make_heatmap, select_candidates, symmetrize
from ncosolve.search.metric import edge_length, kernel_metric, tour_length
from ncosolve.search.tour_ops import (
    double_bridge, flip_partner, local_search, move_segment, or_opt_delta, pred, reinforce, reverse_positions,
    sample_tour, seed_rng, succ,
)

# Initial W = WEIGHT_SCALE * heat, as in Att-GCN's MCTS.
WEIGHT_SCALE = 100.0
# The restart local search runs in calls of at most this many moves (a fixed number keeps seeded runs reproducible).
LOCAL_SEARCH_CHUNK = 20_000
# Fewest failed actions before a restart (small instances would otherwise restart every action or two).
MIN_RESTART_AFTER = 50
# Seconds a compiled chunk of actions should take between clock checks.
CHUNK_SECONDS = 0.02


@dataclass(frozen=True)
class MCTSParams:
    """Search parameters (see the module docstring for their role).

    alpha : weight of the exploration term in Z.
    beta : step size of the gain back-propagated into W.
    restart_factor : restart after ``restart_factor * n`` (at least 50) actions in a row without improvement (H).
    max_depth : most 2-opt flips chained into one k-opt action.
    candidates : candidate edges per city (m).
    candidate_rule : "heatmap" (the m hottest of the k nearest) or "nearest" (the m nearest).
    neighbours : length k of the nearest-neighbour lists (heatmap support and 2-opt lists).
    tau : softdist temperature, relative to the mean nearest-neighbour distance.
    restart : "sample" (a new heatmap-sampled tour, as published) or "kick" (the best tour so far after a
        random local double-bridge of at most ``kick_window`` cities, then 2-opt on the touched cities).
    kick_window : span of the "kick" restart, in tour positions.
    quadrant : quadrant neighbours per quadrant added to each city's candidates and local-search lists (0: the
        k nearest alone; see ``ncosolve.search.candidates``).
    alpha_nearness : cities of smallest alpha-nearness (``candidates.alpha_neighbours``) added to each city's
        candidates and local-search lists, like the quadrant neighbours (0: none; O(n^2) setup).
    wide_kicks : share of the "kick" restarts whose double bridge may span the whole tour instead of
        ``kick_window`` positions: on instances of far-apart clusters, a better order of the clusters needs
        segments that are far apart in the tour swapped.
    or_opt : share of the actions that are Or-opt actions (move a segment of 1-3 cities next to a candidate of
        its end city, chosen by the same Z) instead of k-opt chains.
    local_or_opt : whether the restart local search makes Or-opt moves besides 2-opt.
    """

    alpha: float = 1.0
    beta: float = 10.0
    restart_factor: float = 10.0
    max_depth: int = 10
    candidates: int = 5
    candidate_rule: str = "heatmap"
    neighbours: int = 10
    tau: float = 0.3
    restart: str = "sample"
    kick_window: int = 50
    alpha_nearness: int = 0
    wide_kicks: float = 0.0
    quadrant: int = 0
    or_opt: float = 0.0
    local_or_opt: bool = False

    def checked(self) -> "MCTSParams":
        """Self, or NcoError naming the first out-of-range parameter."""
        if not (self.alpha >= 0 and self.beta >= 0 and self.restart_factor > 0 and self.tau > 0):
            raise NcoError("mcts: alpha, beta must be >= 0; restart_factor, tau > 0")
        if self.restart not in ("sample", "kick") or self.kick_window < 4:
            raise NcoError("mcts: restart must be 'sample' or 'kick', and kick_window >= 4")
        if self.quadrant < 0 or self.alpha_nearness < 0 or not (0.0 <= self.or_opt <= 1.0
                                                                and 0.0 <= self.wide_kicks <= 1.0):
            raise NcoError("mcts: need quadrant >= 0, alpha_nearness >= 0, 0 <= or_opt <= 1, 0 <= wide_kicks <= 1")
        if self.max_depth < 1 or self.candidates < 1 or self.neighbours < self.candidates:
            raise NcoError("mcts: need max_depth >= 1, candidates >= 1 and neighbours >= candidates")
        return self


def default_params(n: int) -> MCTSParams:
    """Defaults by size, chosen on generated instances, never the test sets
    (``python benchmarks/tsp_mcts.py --part tune``; table in BENCHMARKS.md).

    Every size restarts by kicking the best tour (a local double-bridge) soon after the search stalls: the
    published restart (a fresh sampled tour after 10 n failed actions) was the worst configuration at 500
    and 1,000 cities (+0.7% / +1.0%). The kick spans 100 tour positions from 750 cities (best at 1,000), and
    from 5,000 cities it comes after 0.02 n failed actions instead of 0.05 n (best at 10,000, 30 s).
    Below 5,000 cities the candidates and local-search lists also hold 2 quadrant neighbours per quadrant, the
    restart local search makes Or-opt moves and a tenth of the actions are Or-opt actions: on generated uniform,
    clustered and mixed instances of 500-2,000 cities at equal CPU time this was 0.8% shorter on average than
    without them (1.5% on the clustered ones). They also hold each city's 8 alpha-nearest cities, and a tenth of
    the kicks may span the whole tour: on 9 generated uniform / clustered / mixed instances each of 500 and
    1,000 cities (5 s) each was level or slightly better (mean excess over the best configuration 0.28% ->
    0.08% / 0.29% -> 0.21% for the candidates, then 0.15% -> 0.12% / 0.13% -> 0.07% for the kicks); both
    aim at instances of far-apart clusters, whose joining edges no nearest-neighbour list holds. From 5,000
    cities none of this has been measured, so it stays off there.
    """
    if n >= 5000:
        return MCTSParams(restart="kick", restart_factor=0.02, kick_window=50)
    extras = dict(quadrant=2, alpha_nearness=8, wide_kicks=0.1, local_or_opt=True, or_opt=0.1)
    if n >= 750:
        return MCTSParams(restart="kick", restart_factor=0.05, kick_window=100, **extras)
    return MCTSParams(restart="kick", restart_factor=0.05, kick_window=50, **extras)


@njit(cache=True)
def or_opt_action(tour: np.ndarray, pos: np.ndarray, cand: np.ndarray, W: np.ndarray, Q: np.ndarray,
                  z: np.ndarray, buf: np.ndarray, state: np.ndarray, pts: np.ndarray, mat: np.ndarray, mode: int,
                  alpha: float, beta: float, eps: float) -> float:
    """One Or-opt action: a random city a and segment (1-3 cities starting or ending at a); a candidate c of a
    sampled by Z as in the k-opt chains; the segment moves next to c (a beside c, either side, reversed as
    needed) where that is shortest, and is kept only if the tour gets shorter. The gain (or loss) is
    back-propagated into W / Q on edge (a, c). Returns the change in length (applied only when < -eps)."""
    n = tour.shape[0]
    m = cand.shape[1]
    a = np.random.randint(n)
    s = 1 + np.random.randint(3)
    end = np.random.randint(2) if s > 1 else 0
    ps = pos[a] if end == 0 else (pos[a] - s + 1) % n
    omega = 0.0
    valid = 0
    for r in range(m):
        if cand[a, r] >= 0:
            omega += max(W[a, r], 0.0)
            valid += 1
    omega /= max(valid, 1)
    log_m = math.log(state[1] + 1.0)
    total = 0.0
    for r in range(m):
        c = cand[a, r]
        z[r] = 0.0
        if c < 0 or (pos[c] - ps) % n < s:
            continue  # padding, or c inside the segment
        exploit = max(W[a, r], 0.0) / omega if omega > 0.0 else 0.0
        z[r] = exploit + alpha * math.sqrt(log_m / (Q[a, r] + 1.0)) + 1e-12
        total += z[r]
    if total <= 0.0:
        return 0.0
    x = np.random.random() * total
    pick = -1
    for r in range(m):
        if z[r] > 0.0:
            pick = r
            x -= z[r]
            if x <= 0.0:
                break
    c = cand[a, pick]
    best, best_u, best_rev = np.inf, -1, False
    for side in range(2):
        delta, u, rev = or_opt_delta(tour, pos, ps, s, c, side, end, True, pts, mat, mode)
        if delta < best:
            best, best_u, best_rev = delta, u, rev
    if best == np.inf:
        return 0.0
    length = state[0]
    gain = beta * (math.exp(-best / length) - 1.0) if length > 0.0 else 0.0
    reinforce(W, Q, cand, a, c, gain)
    if best < -eps:
        move_segment(tour, pos, buf, ps, s, best_u, best_rev)
    return best


@njit(cache=True)
def run_actions(tour: np.ndarray, pos: np.ndarray, cand: np.ndarray, W: np.ndarray, Q: np.ndarray,
                counters: np.ndarray, state: np.ndarray, pts: np.ndarray, mat: np.ndarray, mode: int,
                alpha: float, beta: float, max_depth: int, restart_after: int, eps: float,
                n_actions: int, or_opt: float = 0.0) -> int:
    """Run up to ``n_actions`` actions on the current tour; stop early when a restart is due. A share
    ``or_opt`` of them are Or-opt actions (``or_opt_action``), the others k-opt chains.

    ``state`` = [current length, M]; ``counters`` = [actions, improvements, actions since the last
    improvement]. Returns the number of actions run. Candidate rows may be padded with -1.
    """
    n = tour.shape[0]
    m = cand.shape[1]
    z = np.empty(m)
    flips = np.empty((max_depth, 2), dtype=np.int64)
    added = np.empty((max_depth, 2), dtype=np.int64)
    buf = np.empty(3, dtype=tour.dtype)
    done = 0
    while done < n_actions and counters[2] < restart_after:
        length = state[0]
        if or_opt > 0.0 and n >= 5 and np.random.random() < or_opt:
            delta = or_opt_action(tour, pos, cand, W, Q, z, buf, state, pts, mat, mode, alpha, beta, eps)
            state[1] += 1.0
            counters[0] += 1
            done += 1
            if delta < -eps:
                state[0] = length + delta
                counters[1] += 1
                counters[2] = 0
            else:
                counters[2] += 1
            continue
        t1 = np.random.randint(n)
        t2 = succ(tour, pos, t1) if np.random.random() < 0.5 else pred(tour, pos, t1)
        delta = 0.0
        depth = 0
        improved = False
        log_m = math.log(state[1] + 1.0)
        while depth < max_depth:
            omega = 0.0
            valid = 0
            for s in range(m):
                if cand[t2, s] >= 0:
                    omega += max(W[t2, s], 0.0)
                    valid += 1
            omega /= max(valid, 1)
            total = 0.0
            for s in range(m):
                t3 = cand[t2, s]
                z[s] = 0.0
                if t3 < 0 or t3 == t1 or t3 == t2:
                    continue
                t4, i, j = flip_partner(tour, pos, t1, t2, t3)
                if t4 == t2:
                    continue
                exploit = max(W[t2, s], 0.0) / omega if omega > 0.0 else 0.0
                z[s] = exploit + alpha * math.sqrt(log_m / (Q[t2, s] + 1.0)) + 1e-12
                total += z[s]
            if total <= 0.0:
                break
            r = np.random.random() * total
            pick = -1
            for s in range(m):
                if z[s] > 0.0:
                    pick = s
                    r -= z[s]
                    if r <= 0.0:
                        break
            t3 = cand[t2, pick]
            t4, i, j = flip_partner(tour, pos, t1, t2, t3)
            delta += (edge_length(t2, t3, pts, mat, mode) + edge_length(t1, t4, pts, mat, mode)
                      - edge_length(t1, t2, pts, mat, mode) - edge_length(t3, t4, pts, mat, mode))
            reverse_positions(tour, pos, i, j)
            flips[depth, 0] = i
            flips[depth, 1] = j
            added[depth, 0] = t2
            added[depth, 1] = t3
            depth += 1
            if delta < -eps:
                improved = True
                break
            t2 = t4
        # a zero-length tour (all distances zero) has nothing to gain: no reinforcement
        gain = beta * (math.exp(-delta / length) - 1.0) if length > 0.0 else 0.0
        for d in range(depth):
            reinforce(W, Q, cand, added[d, 0], added[d, 1], gain)
        state[1] += 1.0
        counters[0] += 1
        done += 1
        if improved:
            state[0] = length + delta
            counters[1] += 1
            counters[2] = 0
        else:
            for d in range(depth - 1, -1, -1):
                reverse_positions(tour, pos, flips[d, 0], flips[d, 1])
            counters[2] += 1
    return done


def add_candidates(cand: np.ndarray, cand_heat: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cand`` / ``cand_heat`` widened by the cities of ``extra`` (rows padded with -1) that are not candidates
    yet, padded with -1 / heat 0 at the end. A new candidate starts with the smallest heat of its row's
    candidates: the heatmap, defined on the k nearest, says nothing about it."""
    extra = drop_known(cand, extra)
    order = np.argsort(extra < 0, axis=1, kind="stable")  # the new ones first, padding last
    extra = np.take_along_axis(extra, order, axis=1)
    width = int((extra >= 0).sum(axis=1).max())
    if width == 0:
        return cand, cand_heat
    extra = extra[:, :width]
    extra_heat = np.where(extra >= 0, cand_heat.min(axis=1, keepdims=True), 0.0)
    return (np.ascontiguousarray(np.concatenate([cand, extra], axis=1)),
            np.ascontiguousarray(np.concatenate([cand_heat, extra_heat], axis=1)))


@dataclass
class SearchResult:
    """The best tour found and what the search did."""

    tour: np.ndarray
    length: float
    actions: int
    improvements: int
    restarts: int
    search_seconds: float
    setup_seconds: float
    info: dict = field(default_factory=dict)


def mcts_search(instance, heatmap: str = "softdist", time_limit: float = 10.0, seed: int = 0,
                params: MCTSParams | None = None, max_actions: int | None = None,
                heat: np.ndarray | None = None) -> SearchResult:
    """Heatmap-guided MCTS on ``instance`` for ``time_limit`` seconds (or ``max_actions`` actions).

    Parameters
    ----------
    instance : a symmetric ``TSPInstance``.
    heatmap : "softdist", "knn-prior", "gnn" or "zero" / "all-zero" (ignored when ``heat`` is given); computing it
        counts inside ``time_limit``.
    time_limit : wall-clock seconds for everything, setup included.
    seed : seeds every random choice; with ``max_actions`` (and time to spare) the run is reproducible.
    params : search parameters; None picks ``default_params(n)``.
    max_actions : stop after this many k-opt actions (restart 2-opt moves not counted).
    heat : optional (n, params.neighbours) heat on the nearest-neighbour lists (a learned heatmap).

    Raises
    ------
    NcoError : asymmetric instance, bad parameters, or a ``heat`` array of the wrong shape.
    """
    start = time.perf_counter()
    deadline = start + time_limit
    n = instance.n
    params = (params or default_params(n)).checked()
    if n <= 3:
        tour = np.arange(n)
        return SearchResult(tour, instance.path_length(tour), 0, 0, 0, 0.0, time.perf_counter() - start)
    pts, mat, mode = kernel_metric(instance)
    nbr, nbr_len = nearest_neighbours(instance, params.neighbours)
    if heat is None:
        heat = make_heatmap(heatmap, nbr_len, params.tau, instance, nbr)
    elif heat.shape != nbr.shape:
        raise NcoError(f"mcts: heat must have shape {nbr.shape} (the nearest-neighbour lists), got {heat.shape}")
    cand, cand_heat = select_candidates(symmetrize(heat, nbr), nbr, params.candidates, params.candidate_rule)
    extra = np.concatenate([quadrant_neighbours(instance, params.quadrant),
                            alpha_neighbours(instance, params.alpha_nearness)], axis=1)
    cand, cand_heat = add_candidates(cand, cand_heat, extra)
    W = np.ascontiguousarray(WEIGHT_SCALE * cand_heat)
    Q = np.zeros_like(W)
    lists = widen_lists(instance, nbr, nbr_len, extra)[0]
    queue = np.empty(n, dtype=np.int64)
    active = np.zeros(n, dtype=np.bool_)
    queue_state = np.zeros(2, dtype=np.int64)
    positive = nbr_len[:, 0][nbr_len[:, 0] > 0]
    eps = 1e-9 * (float(np.mean(positive)) if len(positive) else 1.0)
    restart_after = max(MIN_RESTART_AFTER, int(params.restart_factor * n))
    seed_rng(seed % (2**32))
    rng = np.random.default_rng(seed)

    tour = np.empty(n, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    best_tour, best_len = tour, math.inf
    counters = np.zeros(3, dtype=np.int64)
    state = np.zeros(2)
    restarts = 0
    restart_cost = 0.0
    chunk = 64
    setup = time.perf_counter() - start
    search_start = time.perf_counter()
    while True:
        if restarts == 0 or counters[2] >= restart_after:
            now = time.perf_counter()
            if restarts > 0:
                if state[0] < best_len:
                    best_tour, best_len = tour.copy(), float(state[0])
                if now + restart_cost > deadline:
                    break
            if restarts > 0 and params.restart == "kick":
                if state[0] > best_len:
                    tour[:] = best_tour
                    pos[tour] = np.arange(n)
                wide = params.wide_kicks > 0.0 and rng.random() < params.wide_kicks
                touched = double_bridge(tour, pos, n if wide else params.kick_window)
            else:
                sample_tour(tour, pos, cand, W, nbr, pts, mat, mode)
                touched = tour.copy()
            length = tour_length(tour, pts, mat, mode)
            _, first = np.unique(touched, return_index=True)
            starts = touched[np.sort(first)]
            active[:] = False
            active[starts] = True
            queue[:len(starts)] = starts
            queue_state[0], queue_state[1] = 0, len(starts)
            while True:
                _, optimal, length = local_search(tour, pos, lists, queue, active, queue_state, pts, mat, mode, True,
                                                  params.local_or_opt, True, eps, LOCAL_SEARCH_CHUNK, length, W, Q,
                                                  cand, params.beta)
                if optimal or time.perf_counter() > deadline:
                    break
            state[0] = tour_length(tour, pts, mat, mode)
            counters[2] = 0
            restarts += 1
            restart_cost = time.perf_counter() - now
        remaining = deadline - time.perf_counter()
        if remaining <= 0 or (max_actions is not None and counters[0] >= max_actions):
            break
        todo = chunk if max_actions is None else min(chunk, max_actions - int(counters[0]))
        t0 = time.perf_counter()
        done = run_actions(tour, pos, cand, W, Q, counters, state, pts, mat, mode, params.alpha, params.beta,
                           params.max_depth, restart_after, eps, todo, params.or_opt)
        took = time.perf_counter() - t0
        if done == todo:
            target = min(CHUNK_SECONDS, max(remaining / 4, 1e-4))
            chunk = int(max(16, min(chunk * 4, done * target / max(took, 1e-6))))
    if state[0] < best_len:
        best_tour, best_len = tour.copy(), float(state[0])
    search_seconds = time.perf_counter() - search_start
    return SearchResult(best_tour, instance.path_length(best_tour), int(counters[0]), int(counters[1]),
                        restarts, search_seconds, setup,
                        {"candidates": int(cand.shape[1]), "neighbours": int(lists.shape[1]),
                         "actions_per_s": counters[0] / search_seconds if search_seconds > 0 else 0.0})
