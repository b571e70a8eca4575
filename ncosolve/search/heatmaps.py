"""Sparse edge heatmaps for the search: how likely each k-nearest edge is in a good tour.

A heatmap here is an (n, k) array aligned with the nearest-neighbour lists ``nbr`` (entry [i, r] is
edge (i, nbr[i, r])); edges outside the lists have heat 0, as in the sparse Att-GCN / DIMES / DIFUSCO
pipelines. Available heatmaps:

- ``softdist``: row softmax of -d/tau over the k nearest (SoftDist, Xia et al. 2024). tau is given
  relative to the instance's mean nearest-neighbour distance, so one value serves every scale; the
  far edges a dense softmax would include carry ~0 mass at these temperatures.
- ``knn-prior``: parameter-free; heat of edge (i, r-th nearest of i) = empirical probability that an
  optimal tour's edge at a city goes to its r-th nearest neighbour, fitted once on LKH tours of
  generated instances (``scripts/fit_knn_prior.py``) and shipped as ``data/knn_prior.json``.
- ``gnn``: a learned anisotropic edge-gated GNN on the k-NN graph (``ncosolve.policies.tsp_gnn``, shipped
  checkpoint), row softmax of its edge logits; torch is imported only when it is asked for.
- ``zero`` (alias ``all-zero``): all zeros (the search then relies on its exploration term alone), a control.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from ncosolve.benchmarks import data_dir
from ncosolve.errors import NcoError
from ncosolve.search.candidates import reverse_slots

KNN_PRIOR_FILE = "knn_prior.json"
HEATMAPS = ("softdist", "knn-prior", "gnn", "zero", "all-zero")


def softdist(nbr_len: np.ndarray, tau: float) -> np.ndarray:
    """Row softmax of -d / (tau * mean nearest-neighbour distance) over each city's k nearest."""
    if not tau > 0:
        raise NcoError(f"softdist: tau must be positive, got {tau!r}")
    scale = float(np.mean(nbr_len[:, 0]))
    temp = tau * (scale if scale > 0 else 1.0)
    logits = -(nbr_len - nbr_len[:, :1]) / temp
    heat = np.exp(logits)
    return heat / heat.sum(axis=1, keepdims=True)


@lru_cache(maxsize=1)
def knn_prior_table() -> np.ndarray:
    """The shipped probabilities that an optimal tour edge goes to the r-th nearest neighbour (r = 1..K)."""
    path = data_dir() / KNN_PRIOR_FILE
    try:
        table = json.loads(path.read_text())
        probs = np.asarray(table["probabilities"], dtype=np.float64)
    except (OSError, KeyError, ValueError) as exc:
        raise NcoError(f"knn-prior: cannot read the shipped table {path}: {exc}") from None
    probs.setflags(write=False)
    return probs


def knn_prior(nbr_len: np.ndarray) -> np.ndarray:
    """Heat of edge (i, r-th nearest) = the shipped prior for rank r (0 beyond the table)."""
    probs = knn_prior_table()
    n, k = nbr_len.shape
    row = np.zeros(k)
    m = min(k, len(probs))
    row[:m] = probs[:m]
    return np.broadcast_to(row, (n, k)).copy()


def zero(nbr_len: np.ndarray) -> np.ndarray:
    """All-zero heat (control: the search's exploration term alone)."""
    return np.zeros_like(nbr_len)


def make_heatmap(name: str, nbr_len: np.ndarray, tau: float, instance=None,
                 nbr: np.ndarray | None = None) -> np.ndarray:
    """The (n, k) heatmap ``name`` on the nearest-neighbour lists ``nbr`` (lengths ``nbr_len``).

    ``name`` is "softdist", "knn-prior", "gnn" (needs ``instance`` and ``nbr``) or "zero" / "all-zero".
    """
    if name == "softdist":
        return softdist(nbr_len, tau)
    if name == "knn-prior":
        return knn_prior(nbr_len)
    if name in ("zero", "all-zero"):
        return zero(nbr_len)
    if name == "gnn":
        if instance is None or nbr is None:
            raise NcoError("heatmap 'gnn' needs the instance and its neighbour lists")
        from ncosolve.policies.tsp_gnn import gnn_heatmap

        return gnn_heatmap(instance, nbr, nbr_len)
    raise NcoError(f"unknown heatmap {name!r}; known: {', '.join(HEATMAPS)}")


def symmetrize(heat: np.ndarray, nbr: np.ndarray) -> np.ndarray:
    """(H_ij + H_ji) / 2 on the sparse lists; H_ji is 0 when i is not among j's nearest."""
    rev = reverse_slots(nbr)
    other = np.where(rev >= 0, heat[nbr, np.maximum(rev, 0)], 0.0)
    return 0.5 * (heat + other)


def select_candidates(heat: np.ndarray, nbr: np.ndarray, m: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Each city's ``m`` candidate edges and their heat: ``rule`` "heatmap" (hottest) or "nearest".

    Returns ``(cand (n, m) int64, heat (n, m))``; ties in heat keep the nearer city first.
    """
    m = max(1, min(int(m), nbr.shape[1]))
    if rule == "heatmap":
        cols = np.argsort(-heat, axis=1, kind="stable")[:, :m]
    elif rule == "nearest":
        cols = np.broadcast_to(np.arange(m), (nbr.shape[0], m))
    else:
        raise NcoError(f"candidate rule must be 'heatmap' or 'nearest', got {rule!r}")
    return np.ascontiguousarray(np.take_along_axis(nbr, cols, axis=1)), np.take_along_axis(heat, cols, axis=1)
