"""Genetic algorithm for network design with the true user equilibrium as fitness."""

from __future__ import annotations

import time

import numpy as np

from ncosolve.baselines.ndp_exact import DesignScorer


def repair(instance, design: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drop random chosen candidates until the design is affordable and conflict-free."""
    design = design.copy()
    while not instance.feasible(design[None])[0]:
        design[rng.choice(np.flatnonzero(design))] = 0
    return design


def evolve(instance, fitness, stop, rng: np.random.Generator, population: int = 16, elite: int = 2,
           mutation: float | None = None, stall: int | None = None) -> int:
    """Evolve ``population`` designs, scored by ``fitness`` ((B, K) designs -> (B,) TTT; nan: not scored in
    time), until ``stop()`` is true, every child comes back unscored, or the best fitness has not improved in
    ``stall`` generations. Tournament selection, uniform crossover, bit-flip mutation with rate ``mutation``
    (default 1/candidates), repair to budget, ``elite`` best kept. The caller's ``fitness`` keeps what it scored
    (a cache); returns the number of generations.
    """
    k = instance.num_candidates
    rate = 1.0 / k if mutation is None else mutation
    density = rng.uniform(0.1, 0.9, (population, 1))
    pop = np.stack([repair(instance, d, rng) for d in (rng.random((population, k)) < density).astype(np.int64)])
    pop[0] = 0  # the do-nothing design is always a candidate (Braess: building can hurt)
    fit = fitness(pop)
    generations = since_best = 0
    best = np.nanmin(fit) if not np.isnan(fit).all() else np.inf
    while not stop() and (stall is None or since_best < stall):
        fit_rank = np.where(np.isnan(fit), np.inf, fit)
        order = np.argsort(fit_rank)
        pairs = rng.integers(0, population, (population - elite, 2, 2))
        parents = np.where(fit_rank[pairs[..., 0]] <= fit_rank[pairs[..., 1]], pairs[..., 0], pairs[..., 1])
        mix = rng.random((population - elite, k)) < 0.5
        kids = np.where(mix, pop[parents[:, 0]], pop[parents[:, 1]])
        kids ^= (rng.random(kids.shape) < rate).astype(np.int64)
        kids = np.stack([repair(instance, d, rng) for d in kids])
        kid_fit = fitness(kids)
        if np.isnan(kid_fit).all():
            break
        pop = np.concatenate([pop[order[:elite]], kids])
        fit = np.concatenate([fit_rank[order[:elite]], kid_fit])
        generations += 1
        since_best = 0 if np.nanmin(kid_fit) < best else since_best + 1
        best = min(best, np.nanmin(kid_fit))
    return generations


def ndp_ga(instance, time_limit: float, seed: int = 0, population: int = 16, elite: int = 2,
           mutation: float | None = None):
    """``evolve`` with the true UE as fitness until the time limit; identical designs are scored once."""
    scorer = DesignScorer(instance, time.perf_counter() + time_limit)
    generations = evolve(instance, scorer, lambda: scorer.time_left() <= 0, np.random.default_rng(seed),
                         population, elite, mutation)
    best = min(scorer.cache, key=scorer.cache.get)
    design = np.frombuffer(best, dtype=np.int64).copy()
    return design, {"generations": generations, "evaluations": scorer.count, "ttt": scorer.cache[best]}
