"""Exact network design by enumeration: every affordable 0/1 design scored at user equilibrium."""

from __future__ import annotations

import time

import numpy as np

from ncosolve.errors import NcoError
from ncosolve.problems.network import evaluate_designs

MAX_CANDIDATES = 16  # 65,536 designs


class DesignScorer:
    """Scores designs at UE under a deadline, in chunks, learning the time per design to stop before it.

    The estimate is the last chunk's time per design. Before the deadline the first two chunks always run
    (the first one usually includes JAX compilation for a new network, which would otherwise stop the search
    at once), and the very first chunk runs even past it, so there is always a scored design.
    """

    def __init__(self, instance, deadline: float, chunk: int = 8, tol: float | None = None):
        self.instance, self.deadline, self.chunk, self.tol = instance, deadline, chunk, tol
        self.per_design = 0.0
        self.count = 0
        self.chunks = 0
        self.cache: dict[bytes, float] = {}

    def time_left(self) -> float:
        """Seconds until the deadline."""
        return self.deadline - time.perf_counter()

    def __call__(self, designs: np.ndarray) -> np.ndarray:
        """(B,) TTT per design (inf: infeasible; nan: not scored before the deadline). Repeats come from a cache."""
        designs = np.asarray(designs, dtype=np.int64)
        out = np.array([self.cache.get(d.tobytes(), np.nan) for d in designs])
        todo = np.flatnonzero(np.isnan(out))
        for start in range(0, len(todo), self.chunk):
            rows = todo[start:start + self.chunk]
            left = self.time_left()
            if self.count and (left <= 0 or (self.chunks >= 2 and self.per_design * len(rows) > left)):
                break
            tick = time.perf_counter()
            out[rows] = evaluate_designs(self.instance, designs[rows], tol=self.tol)
            self.count += len(rows)
            self.chunks += 1
            self.per_design = (time.perf_counter() - tick) / len(rows)
            for r in rows:
                self.cache[designs[r].tobytes()] = out[r]
        return out


def all_designs(k: int) -> np.ndarray:
    """(2**k, k) every 0/1 vector, in binary counting order."""
    return ((np.arange(2**k)[:, None] >> np.arange(k)) & 1).astype(np.int64)


def ndp_exact(instance, time_limit: float, seed: int = 0, chunk: int = 8):
    """The best of all affordable designs (proven optimal when ``info["complete"]``, at the instance's UE gap).

    Raises
    ------
    NcoError : more than ``MAX_CANDIDATES`` candidates (use ``ndp-ga``).
    """
    start = time.perf_counter()
    k = instance.num_candidates
    if k > MAX_CANDIDATES:
        raise NcoError(f"ndp-exact: {k} candidates is above its limit of {MAX_CANDIDATES} (2^{k} designs); "
                       "use 'ndp-ga' or 'ndp-greedy'")
    designs = all_designs(k)
    designs = designs[instance.feasible(designs)]
    scorer = DesignScorer(instance, start + time_limit, chunk=chunk)
    ttt = scorer(designs)
    done = ~np.isnan(ttt)
    best = int(np.nanargmin(ttt))
    return designs[best], {"designs": len(designs), "evaluated": int(done.sum()), "complete": bool(done.all()),
                           "ttt": float(ttt[best])}
