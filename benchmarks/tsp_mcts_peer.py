"""ncosolve's MCTS beside the reference C++ MCTS of the literature, per instance, alternating, same heatmap and budget.

The peer is the C++ search of Xia et al. 2024 ("Position: rethinking post-hoc search-based neural approaches for
solving large-scale TSP", github.com/xyfffff/rethink_mcts_for_tsp), the descendant of Fu et al.'s code that
DIMES / DIFUSCO / UTSP ran. It is never vendored: build its ``default_mcts_varying_time`` variant (the one whose
time budget is a command-line argument) outside the repository and pass the binary's path::

    git clone https://github.com/xyfffff/rethink_mcts_for_tsp
    cd rethink_mcts_for_tsp/default_mcts_varying_time
    sed -i '/^bool Read_Heatmap()/,/^}/ s/^}$/    return true;\n}/' code/TSP_IO.h
    g++ -O3 -o test code/TSP.cpp
    python benchmarks/tsp_mcts_peer.py --peer PATH/test --suite tsp500-fu --first 16 --budget 10

The ``sed`` adds the ``return true;`` that ``bool Read_Heatmap()`` lacks: flowing off its end is undefined
behaviour, and GCC 12 at -O1 and above turns it into a crash (``std::bad_cast`` or a segmentation fault) before
the search starts; nothing else is changed. The peer runs as its users run it, on its own ground: the Fu et al.
TSP-500 / TSP-1000 test files (its input format: 128 instances, coordinates then ``output`` and the stored
tour), one heatmap file per instance in
``./heatmap/tsp<N>/heatmaptsp<N>_<k>.txt`` (N, then an N x N matrix; it symmetrizes it and keeps every edge of heat
>= 1e-4 as a candidate), its published default parameters (alpha 1, beta 10, H 10), and ``Param_T = budget / N``:
it stops at ``Param_T * N`` seconds of CPU time from reading the instance, its distance matrix and the heatmap
included. The heatmap it reads is ncosolve's own softdist heatmap (the one ``mcts`` computes inside its budget) on
each city's k nearest cities, zero elsewhere. ncosolve's methods run through ``ncosolve.solve`` after
``ncosolve.prepare`` (compilation out of the budget, as for every method). Per instance the order alternates.
Every tour, the peer's included, is scored by ``ncosolve.evaluate``.

Reported per suite: the gap of the mean length to the set's Concorde mean (the literature's figure), the mean
per-instance gap to the stored near-optimal tours, per-instance wins / ties / losses against the peer, and the
ratio of the gaps of the mean (peer / ncosolve) at equal time. JSON to ``--out`` (default ``results/tsp_mcts_peer.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import ncosolve
from ncosolve.benchmarks import data_dir, load_benchmark
from ncosolve.search.candidates import nearest_neighbours
from ncosolve.search.heatmaps import make_heatmap
from ncosolve.search.mcts import default_params
from ncosolve.script_args import executable_file
from ncosolve.suites.tsp_large import SETS, reference_mean

RESULTS = Path(__file__).parent / "results"
PEER_SUITES = ("tsp500-fu", "tsp1000-fu")  # the peer reads exactly 128 instances of 20-1000 (or 10000) cities


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", type=executable_file, required=True,
                        help="the built peer binary (default_mcts_varying_time's `test`)")
    parser.add_argument("--suite", default="tsp500-fu,tsp1000-fu", help="comma-separated: tsp500-fu, tsp1000-fu")
    parser.add_argument("--first", type=int, default=8, help="first K instances of each suite (default 8)")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per instance for every solver "
                        "(default 10)")
    parser.add_argument("--methods", default="mcts", help="comma-separated ncosolve methods (default mcts)")
    parser.add_argument("--out", type=Path, default=RESULTS / "tsp_mcts_peer.json", help="JSON output")
    args = parser.parse_args(argv)
    bad = [s for s in args.suite.split(",") if s not in PEER_SUITES]
    if bad:
        parser.error(f"--suite: {', '.join(bad)} not among {', '.join(PEER_SUITES)}")
    known = [spec.name for spec in ncosolve.methods("tsp")]
    unknown = [m for m in args.methods.split(",") if m and m not in known]
    if unknown:
        parser.error(f"--methods: {', '.join(unknown)} not among ncosolve's TSP methods ({', '.join(known)})")
    return args


def write_peer_input(suite: str, path: Path) -> np.ndarray:
    """The whole set in the peer's input format; returns the stored tours (0-based)."""
    with np.load(data_dir() / "tsp_large" / SETS[suite][0]) as data:
        coords, tours = data["coords"], data["tour"]
    with path.open("w") as f:
        for xy, tour in zip(coords, tours):
            f.write(" ".join(f"{v:.17g}" for v in xy.ravel()) + " output "
                    + " ".join(str(int(c) + 1) for c in tour) + f" {int(tour[0]) + 1}\n")
    return tours


def write_heatmap(instance, k: int, folder: Path) -> None:
    """ncosolve's softdist heatmap of ``instance`` (k-th of its set) as the peer's dense heatmap file."""
    params = default_params(instance.n)
    nbr, nbr_len = nearest_neighbours(instance, params.neighbours)
    heat = make_heatmap("softdist", nbr_len, params.tau, instance, nbr)
    dense = np.zeros((instance.n, instance.n))
    dense[np.arange(instance.n)[:, None], nbr] = heat
    out = folder / f"tsp{instance.n}" / f"heatmaptsp{instance.n}_{k}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        f.write(f"{instance.n}\n")
        np.savetxt(f, dense, fmt="%.6g")


def run_peer(peer: Path, workdir: Path, k: int, n: int, budget: float) -> tuple[np.ndarray | None, float, str]:
    """The peer on instance k of the set in ``workdir``: (0-based tour or None, wall seconds, a note on failure)."""
    result = workdir / f"result_{k}.txt"
    result.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        done = subprocess.run([str(peer.resolve()), str(k), str(result), "input.txt", str(n), "1", repr(budget / n)],
                              cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=3 * budget + 60)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start, "timed out"
    wall = time.perf_counter() - start
    lines = [ln for ln in result.read_text().splitlines() if ln.startswith("Solution:")] if result.exists() else []
    if not lines:
        return None, wall, f"no solution (exit {done.returncode}): {done.stdout[-300:]} {done.stderr[-300:]}"
    return np.array([int(c) - 1 for c in lines[-1].split()[1:]], dtype=np.int64), wall, ""


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    rows, summary = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for suite in args.suite.split(","):
            workdir = Path(tmp) / suite
            (workdir / "heatmap").mkdir(parents=True)
            stored = write_peer_input(suite, workdir / "input.txt")
            instances = load_benchmark(suite)[:args.first]
            for method in methods:
                ncosolve.prepare(instances[0], method)
            for k, inst in enumerate(instances):
                write_heatmap(inst, k, workdir / "heatmap")
                row = {"suite": suite, "instance": inst.name, "n": inst.n,
                       "stored_length": ncosolve.evaluate(inst, stored[k])}
                order = ["peer", *methods] if k % 2 else [*methods, "peer"]
                for solver in order:
                    if solver == "peer":
                        tour, wall, note = run_peer(args.peer, workdir, k, inst.n, args.budget)
                        valid = tour is not None and np.array_equal(np.sort(tour), np.arange(inst.n))
                        row["peer"] = ncosolve.evaluate(inst, tour) if valid else None
                        row["peer_wall_s"] = round(wall, 2)
                        if not valid:
                            row["peer_note"] = note or "not a permutation of the cities"
                    else:
                        result = ncosolve.solve(inst, method=solver, time_limit=args.budget, seed=0)
                        row[solver] = result.cost if result.feasible else None
                        row[f"{solver}_wall_s"] = round(result.runtime_s, 2)
                rows.append(row)
                print("  ".join(f"{key}={value:.4f}" if isinstance(value, float) else f"{key}={value}"
                                for key, value in row.items()), flush=True)
            summary[suite] = suite_summary(suite, [r for r in rows if r["suite"] == suite], methods)
            print(json.dumps({suite: summary[suite]}, indent=1), flush=True)
    report = {"benchmark": "tsp_mcts_peer", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "ncosolve": ncosolve.__version__,
              "peer": str(args.peer), "budget_s": args.budget, "first": args.first, "rows": rows, "summary": summary,
              "note": "peer = rethink_mcts_for_tsp default_mcts_varying_time, default parameters, Param_T = budget / N "
                      "(CPU seconds, instance reading included), fed ncosolve's softdist heatmap; order alternates per "
                      "instance; lengths by ncosolve.evaluate; gap_pct = gap of the mean length to the set's Concorde "
                      "mean; gap_to_stored_pct = mean per-instance gap to the stored tours"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


def suite_summary(suite: str, rows: list[dict], methods: list[str]) -> dict:
    """Gaps per solver, wins of each ncosolve method against the peer, ratio of gaps."""
    out = {}
    for solver in ["peer", *methods]:
        lengths = [r[solver] for r in rows]
        if any(x is None for x in lengths):
            out[solver] = {"solved": sum(x is not None for x in lengths), "instances": len(rows)}
            continue
        out[solver] = {"gap_pct": round(100.0 * (statistics.fmean(lengths) / reference_mean(suite) - 1.0), 3),
                       "gap_to_stored_pct": round(100.0 * statistics.fmean(
                           x / r["stored_length"] - 1.0 for x, r in zip(lengths, rows)), 3),
                       "instances": len(rows)}
    for method in methods:
        pairs = [(r[method], r["peer"]) for r in rows if r[method] is not None and r["peer"] is not None]
        tie = [abs(a - b) <= 1e-9 * b for a, b in pairs]
        out[method]["vs_peer_wins_ties_losses"] = [sum(a < b and not t for (a, b), t in zip(pairs, tie)),
                                                   sum(tie), sum(a > b and not t for (a, b), t in zip(pairs, tie))]
        if "gap_pct" in out[method] and "gap_pct" in out["peer"]:
            ours = out[method]["gap_pct"]
            out[method]["peer_gap_over_ours"] = round(out["peer"]["gap_pct"] / ours, 2) if ours > 0 else None
    return out


if __name__ == "__main__":
    main()
