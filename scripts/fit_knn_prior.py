"""Fit the parameter-free ``knn-prior`` heatmap table from LKH-3 tours of generated instances.

For every city of every solved instance, each of its two tour edges is counted at the rank its
other end holds in the city's nearest-neighbour list (1 = nearest). The table is the share of tour
edges at each rank 1..K, plus the share beyond K. The instances are generated (``ncosolve.generate``,
uniform, a seed no test set uses), never the test sets. LKH-3 runs through elkai on the coordinates
scaled by 10^6 and rounded (EUC_2D), without a time limit, so a busy machine cannot cut a run short.
Writes ``ncosolve/data/knn_prior.json``.

Usage: ``python scripts/fit_knn_prior.py [--instances 32] [--size 500] [--seed 20240501]
[--runs 1] [--ranks 20] [--out ncosolve/data/knn_prior.json]``
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

import elkai
import numpy as np

import ncosolve
from ncosolve.search.candidates import nearest_neighbours

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "ncosolve" / "data" / "knn_prior.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=32, help="generated instances to solve (default 32)")
    parser.add_argument("--size", type=int, default=500, help="cities per instance (default 500)")
    parser.add_argument("--seed", type=int, default=20240501, help="generator seed (default 20240501)")
    parser.add_argument("--runs", type=int, default=1, help="LKH runs per instance (default 1)")
    parser.add_argument("--ranks", type=int, default=20, help="table length K (default 20)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output JSON (default {DEFAULT_OUT})")
    return parser.parse_args(argv)


def rank_counts(instance, tour: np.ndarray, ranks: int) -> np.ndarray:
    """Counts of tour edges (both ends) at nearest-neighbour rank 1..ranks; the last cell counts the rest."""
    nbr, _ = nearest_neighbours(instance, ranks)
    counts = np.zeros(ranks + 1, dtype=np.int64)
    for a, b in ((tour, np.roll(tour, -1)), (np.roll(tour, -1), tour)):
        hit = nbr[a] == b[:, None]
        found = hit.any(axis=1)
        np.add.at(counts, np.argmax(hit[found], axis=1), 1)
        counts[ranks] += int((~found).sum())
    return counts


def lkh_tour(coords: np.ndarray, runs: int) -> np.ndarray:
    """LKH-3's tour (0-based) of the points, measured on coordinates scaled by 10^6 and rounded."""
    scaled = {str(i): (float(x), float(y)) for i, (x, y) in enumerate(np.round(coords * 1e6))}
    names = elkai.Coordinates2D(scaled).solve_tsp(runs=runs)[:-1]
    return np.array([int(c) for c in names], dtype=np.int64)


def main(argv: list[str] | None = None) -> None:
    """Solve the generated instances with LKH-3, count edge ranks, write the table."""
    args = parse_args(argv)
    instances = ncosolve.generate("tsp", args.instances, args.size, seed=args.seed)
    counts = np.zeros(args.ranks + 1, dtype=np.int64)
    lengths = []
    for inst in instances:
        tour = lkh_tour(inst.coords, args.runs)
        cost = ncosolve.evaluate(inst, tour)
        counts += rank_counts(inst, tour, args.ranks)
        lengths.append(cost)
        print(f"{inst.name}: length {cost:.4f}", flush=True)
    share = counts / counts.sum()
    table = {
        "description": "P(a tour edge at a city goes to its r-th nearest neighbour), r = 1..K; "
                       "'beyond' is the share past rank K",
        "probabilities": [round(float(p), 6) for p in share[:-1]],
        "beyond": round(float(share[-1]), 6),
        "source": {"solver": "LKH-3 via elkai, coordinates x 1e6 rounded", "runs": args.runs,
                   "instances": args.instances, "size": args.size, "distribution": "uniform",
                   "generator_seed": args.seed, "mean_length": round(float(np.mean(lengths)), 4),
                   "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")},
    }
    args.out.write_text(json.dumps(table, indent=1) + "\n")
    print(f"wrote {args.out}: {np.round(share[:10], 4)} ... beyond {share[-1]:.2e}")


if __name__ == "__main__":
    main()
