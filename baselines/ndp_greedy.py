"""Greedy network design: add the candidate with the largest TTT saving per unit cost until none saves."""

from __future__ import annotations

import time

import numpy as np

from ncosolve.baselines.ndp_exact import DesignScorer


def ndp_greedy(instance, time_limit: float, seed: int = 0, per_cost: bool = True):
    """Grow a design one candidate at a time by the best marginal saving (per unit cost if ``per_cost``),
    scoring every affordable addition at UE; stops when no addition saves time, or at the time limit.
    """
    scorer = DesignScorer(instance, time.perf_counter() + time_limit)
    design = np.zeros(instance.num_candidates, dtype=np.int64)
    current = float(scorer(design[None])[0])
    rounds = 0
    while scorer.time_left() > 0:
        moves = np.flatnonzero(design == 0)
        trial = np.repeat(design[None], len(moves), axis=0)
        trial[np.arange(len(moves)), moves] = 1
        keep = instance.feasible(trial)
        moves, trial = moves[keep], trial[keep]
        if len(moves) == 0:
            break
        saving = current - scorer(trial)
        saving[np.isnan(saving)] = -np.inf
        cost = instance.candidate_cost[moves]
        score = np.where(saving > 0, saving / np.maximum(cost, 1e-12), -np.inf) if per_cost else saving
        pick = int(np.argmax(score))
        if not saving[pick] > 0:
            break
        design[moves[pick]] = 1
        current -= saving[pick]
        rounds += 1
    return design, {"rounds": rounds, "evaluations": scorer.count, "ttt": current}
