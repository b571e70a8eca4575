"""``lkh-gnn``: LKH-3 on a learned candidate set, as NeuroLKH (Xin et al., NeurIPS 2021) does.

The shipped edge-gated GNN (``ncosolve.policies.tsp_gnn``, the heatmap of ``mcts-gnn``) scores each city's
``neighbours`` nearest edges; the heat is symmetrized ((H_ij + H_ji) / 2), each city keeps its
``candidates`` hottest edges, and every kept edge is given to both its ends, so the set is symmetric. Each
city's edges are ranked by heat and written as an LKH ``CANDIDATE_FILE`` whose alpha field is that rank
(0 = hottest), so LKH tries them in the network's order. Each city's ``quadrant`` (2) nearest cities per
quadrant follow (both ways, where not already there): a k-NN graph has no edges between clusters, and without
them LKH found poor tours on clustered instances (fl3795: 4.5% above the optimum, 0.6% with them). LKH then
runs through ``ncosolve.baselines.lkh`` (child process, deadline kill, best tour read from its tour file).

Three ways to run LKH on the learned edges (options ``subgradient`` and ``penalties``):

- ``subgradient`` True (default): LKH's own subgradient ascent runs on the learned edges as its sparse graph
  (each city's ``candidates`` hottest, as LKH trims them on reading); LKH then ranks them, with the 1-tree's
  edges and the transitive ones it adds, by their alpha-values under the penalties it found, keeps
  ``candidates`` per city (as POPMUSIC's sets are treated) and searches on the penalised distances.
- ``subgradient=False``: ``SUBGRADIENT = NO`` and penalties 0 (``PI_FILE = 0``): no ascent, the learned edges
  in the network's order, plain distances.
- ``subgradient=False, penalties=True`` (NeuroLKH proper): no ascent, the learned edges in the network's order,
  and node penalties from the shipped penalty model (``tsp_gnn.gnn_penalties``: the same architecture with a
  per-city output, trained on LKH's ascent penalties) given to LKH as its ``PI_FILE``.

With ``edges="lkh"`` (and ``subgradient=False, penalties=True``) the heatmap is not used: LKH builds its own
candidate set (``lkh.candidate_set`` by size and budget) and ranks it under the learned penalties, so the
network replaces only the ascent.

Everything after ``prepare`` (importing torch, loading the checkpoint, starting the LKH child) runs inside
the budget: the k-NN lists, the GNN inference (one torch thread) and writing the file are reported as
``info["heatmap_s"]`` and ``info["candidate_s"]``, the penalty model's inference as ``info["penalties_s"]``.
"""

from __future__ import annotations

import time

import numpy as np

from ncosolve.baselines.lkh import lkh_solve, prepare_lkh
from ncosolve.errors import NcoError
from ncosolve.search.candidates import nearest_neighbours, quadrant_neighbours
from ncosolve.search.heatmaps import HEATMAPS, make_heatmap, select_candidates, symmetrize

# k of the k-NN graph the GNN scores: the k it was trained at. Share of the stored near-optimal tours' edges
# among the candidates (top 5, symmetric), tsp500-fu / tsp1000-fu instances 20-27: k = 10 98.63% / 98.71%,
# k = 16 98.35% / 98.29%, k = 20 97.75% / 97.18% (the rank / k feature drifts from training); softdist's
# top 5 98.2% at every k.
NEIGHBOURS = 10
CANDIDATES = 5  # hottest edges kept per city (LKH's default MAX_CANDIDATES)
EDGES = ("gnn", "lkh")  # where the candidate edges come from
# Nearest cities per quadrant added to the learned file. lkh-gnn with LKH's ascent, 0 -> 2: fl3795 (38 s) 4.47% ->
# 0.57%, u1817 + d2103 (0.01 N s) mean 0.472% -> 0.132%, tsp1000-fu first 4 (10 s) 0.004% -> 0.005% (3 of 4 tied),
# tsp10000-fu first 4 (100 s) 0.137% -> 0.116% (lkh 0.116%).
QUADRANT = 2


def learned_candidates(instance, neighbours: int = NEIGHBOURS, candidates: int = CANDIDATES,
                       heatmap: str = "gnn") -> list[np.ndarray]:
    """Each city's candidate cities (0-based), hottest first: the symmetrized top-``candidates`` edges.

    The heat of edge (i, j) is the symmetrized heatmap on the ``neighbours``-NN graph; city i keeps its
    ``candidates`` hottest edges, and each kept edge is added to both ends' lists (so a city may have more
    than ``candidates``). Returns a list of n int64 arrays, each ordered by decreasing heat (ties: nearer first).
    """
    heat, nbr, _ = _heat(instance, neighbours, heatmap)
    return _select(heat, nbr, candidates)


def _heat(instance, neighbours: int, heatmap: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(heat (n, k), nbr (n, k), nbr_len (n, k)): ``heatmap`` on the ``neighbours``-NN graph."""
    nbr, nbr_len = nearest_neighbours(instance, neighbours)
    return make_heatmap(heatmap, nbr_len, 0.3, instance=instance, nbr=nbr), nbr, nbr_len


def candidate_file_text(cands: list[np.ndarray]) -> str:
    """LKH-3 ``CANDIDATE_FILE`` text: the node count, then per node ``id dad count (cand alpha)*`` (1-based ids,
    dad 0 = none, alpha = the candidate's rank in the list), then ``-1`` and ``EOF``."""
    lines = [str(len(cands))]
    for i, row in enumerate(cands):
        pairs = " ".join(f"{int(j) + 1} {r}" for r, j in enumerate(row))
        lines.append(f"{i + 1} 0 {len(row)} {pairs}".rstrip())
    return "\n".join(lines) + "\n-1\nEOF\n"


def read_candidate_file(text: str) -> list[np.ndarray]:
    """The 0-based candidate lists of a ``CANDIDATE_FILE`` text, in file order (for checks and tests)."""
    tokens = text.split()
    n = int(tokens[0])
    cands: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * n
    at = 1
    while at < len(tokens) and tokens[at] not in ("-1", "EOF"):
        node, count = int(tokens[at]), int(tokens[at + 2])
        pairs = np.array(tokens[at + 3:at + 3 + 2 * count], dtype=np.int64).reshape(count, 2)
        cands[node - 1] = pairs[:, 0] - 1
        at += 3 + 2 * count
    return cands


def _check(instance) -> None:
    if instance.coords is None or instance.edge_weight_type == "EXPLICIT":
        raise NcoError("lkh-gnn: needs a symmetric coordinate instance (the GNN reads the k-NN graph of the "
                       "coordinates); for a distance-matrix or asymmetric instance use 'lkh'")


def prepare_lkh_gnn(instance=None, heatmap: str = "gnn", penalties: bool = False, edges: str = "gnn",
                    quadrant: int = QUADRANT) -> None:
    """Load the shipped GNNs the options use and run them once on a small graph, compile the quadrant
    neighbours' kernel (numba), and start the LKH child."""
    from ncosolve.problems import TSPInstance

    tiny = TSPInstance(coords=np.random.default_rng(0).uniform(size=(20, 2)))
    graph = nearest_neighbours(tiny, 10)
    if heatmap == "gnn" and edges == "gnn":
        from ncosolve.policies.tsp_gnn import gnn_heatmap

        gnn_heatmap(tiny, *graph)
    if penalties:
        from ncosolve.policies.tsp_gnn import gnn_penalties

        gnn_penalties(tiny, *graph)
    if edges == "gnn" and isinstance(quadrant, (int, np.integer)) and quadrant > 0:
        quadrant_neighbours(tiny, quadrant)
    prepare_lkh(instance)


def lkh_gnn(instance, time_limit: float, seed: int = 0, candidates: int = CANDIDATES,
            neighbours: int = NEIGHBOURS, subgradient: bool = True, runs: int = 10, heatmap: str = "gnn",
            penalties: bool = False, edges: str = "gnn", quadrant: int = QUADRANT):
    """LKH-3 on the GNN's candidate edges (see the module docstring), stopped at ``time_limit`` seconds.

    Parameters
    ----------
    instance : a coordinate ``TSPInstance``.
    time_limit : wall-clock budget in seconds, heatmap and candidate file included.
    seed : LKH's seed (as for ``lkh``).
    candidates : hottest edges kept per city before symmetrizing (default 5).
    neighbours : k of the k-NN graph the GNN scores (default 10, as trained).
    subgradient : run LKH's ascent on the learned edges (default), or none (penalties 0).
    runs : LKH runs (as for ``lkh``).
    heatmap : "gnn" (default), or another heatmap of ``ncosolve.search.heatmaps`` as a control.
    penalties : with ``subgradient=False``, the shipped penalty model's node penalties instead of 0.
    edges : "gnn" (default), the learned candidate file; or "lkh", LKH's own candidate set under the learned
        penalties (needs ``penalties``).
    quadrant : also give each city its ``quadrant`` nearest cities per quadrant (and the reverse edges), after
        the learned ones: edges between clusters that a k-NN graph lacks (default 2; 0: the learned edges only).

    Returns
    -------
    (tour, info): info as ``lkh``'s, with ``candidates`` "file", ``candidate_source``, ``heatmap_s``
    (k-NN lists and heatmap), ``candidate_s`` (selection and file text), ``penalties_s`` (with ``penalties``)
    and the candidate counts per city.

    Raises
    ------
    NcoError : a matrix instance, or a bad option (``penalties`` with the ascent on).
    """
    start = time.perf_counter()
    _check(instance)
    if heatmap not in HEATMAPS:
        raise NcoError(f"lkh-gnn: heatmap must be one of {HEATMAPS}, got {heatmap!r}")
    for name, value, least in (("candidates", candidates, 1), ("neighbours", neighbours, 1),
                               ("quadrant", quadrant, 0)):
        if not isinstance(value, (int, np.integer)) or value < least:
            raise NcoError(f"lkh-gnn: {name} must be an integer of at least {least}, got {value!r}")
    if penalties and subgradient:
        raise NcoError("lkh-gnn: learned penalties replace LKH's ascent: pass subgradient=False with penalties=True")
    if edges not in EDGES or (edges == "lkh" and not penalties):
        raise NcoError(f"lkh-gnn: edges must be one of {EDGES} ('lkh' with penalties=True), got {edges!r}")
    if instance.n <= 3:
        return lkh_solve(instance, time_limit, seed=seed, runs=runs)
    if edges == "lkh":
        pi, penalties_s = _learned_penalties(instance, nearest_neighbours(instance, NEIGHBOURS))
        tour, info = lkh_solve(instance, time_limit - (time.perf_counter() - start), seed=seed, runs=runs,
                               subgradient=False, penalties=pi)
        info.update({"candidate_source": f"LKH's {info['candidates']} set under the learned penalties",
                     "penalties_s": penalties_s})
        return tour, info
    t0 = time.perf_counter()
    heat, nbr, nbr_len = _heat(instance, neighbours, heatmap)
    heatmap_s = time.perf_counter() - t0
    cands = _select(heat, nbr, candidates)
    if quadrant:
        cands = _widen(cands, quadrant_neighbours(instance, quadrant))
    text = candidate_file_text(cands)
    candidate_s = time.perf_counter() - t0 - heatmap_s
    counts = np.array([len(c) for c in cands])
    pi, penalties_s = None, None
    if penalties:  # on the k-NN graph the penalty model was trained on: the heatmap's when k is the same
        graph = (nbr, nbr_len) if neighbours == NEIGHBOURS else nearest_neighbours(instance, NEIGHBOURS)
        pi, penalties_s = _learned_penalties(instance, graph)
    tour, info = lkh_solve(instance, time_limit - (time.perf_counter() - start), seed=seed, runs=runs,
                           candidate_file=text, subgradient=subgradient, penalties=pi)
    info.update({
        "candidate_source": f"{heatmap} heatmap on the {nbr.shape[1]}-NN graph, top {candidates} per city by "
                            "symmetrized heat, made symmetric"
                            + (f", then {quadrant} nearest per quadrant both ways" if quadrant else ""),
        "heatmap_s": round(heatmap_s, 4), "candidate_s": round(candidate_s, 4), "penalties_s": penalties_s,
        "candidates_per_city_mean": round(float(counts.mean()), 3), "candidates_per_city_max": int(counts.max()),
    })
    return tour, info


def _learned_penalties(instance, graph: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, float]:
    """The shipped penalty model's node penalties on ``graph`` (nbr, nbr_len), and the seconds they took."""
    from ncosolve.policies.tsp_gnn import gnn_penalties

    t0 = time.perf_counter()
    pi = gnn_penalties(instance, *graph)
    return pi, round(time.perf_counter() - t0, 4)


def _select(heat: np.ndarray, nbr: np.ndarray, candidates: int) -> list[np.ndarray]:
    """``learned_candidates``' selection on an (n, k) heatmap already computed."""
    n = nbr.shape[0]
    dst, h = select_candidates(symmetrize(heat, nbr), nbr, candidates, "heatmap")
    m = dst.shape[1]
    src = np.repeat(np.arange(n, dtype=np.int64), m)
    dst, h = dst.ravel(), h.ravel()
    a, b, w = np.concatenate([src, dst]), np.concatenate([dst, src]), np.concatenate([h, h])
    own = np.concatenate([np.zeros(n * m), np.ones(n * m)])  # at equal heat, a city's own picks first
    order = np.lexsort((own, -w, a))  # by city, then hottest first
    return _city_lists(a[order], b[order], n)


def _widen(cands: list[np.ndarray], extra: np.ndarray) -> list[np.ndarray]:
    """Each city's list with the cities of ``extra`` ((n, e), -1 padded) appended, and each such edge added to
    its other end too, where not already there (so the lists stay symmetric)."""
    n, e = extra.shape
    src, dst = np.repeat(np.arange(n), e), extra.ravel()
    keep = dst >= 0
    a = np.concatenate([np.repeat(np.arange(n), [len(c) for c in cands]), src[keep], dst[keep]])
    b = np.concatenate([*cands, dst[keep], src[keep]])
    return _city_lists(a, b, n)


def _city_lists(a: np.ndarray, b: np.ndarray, n: int) -> list[np.ndarray]:
    """Edges (a, b) as n lists, city a's cities b in the order the edges come, each city once (its first)."""
    order = np.argsort(a, kind="stable")
    a, b = a[order], b[order].astype(np.int64)
    _, first = np.unique(a * n + b, return_index=True)  # the first of each repeated edge (unique sorts stably)
    keep = np.zeros(len(a), dtype=bool)
    keep[first] = True
    a, b = a[keep], b[keep]
    bounds = np.searchsorted(a, np.arange(n + 1))
    return [b[bounds[i]:bounds[i + 1]] for i in range(n)]
