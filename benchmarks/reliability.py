"""Reliability figures (issue 8): inputs fuzzed per reader and crashes found (target: 0).

Protocol
--------
Each reader (TSPLIB, VRPLIB, Solomon, MovingAI .map/.scen, TNTP net/trips, DNDP, solution files) is fed
``--per-seed`` mutations of each real seed file listed in ``tests/fuzz/fuzzing.py`` (1-4 of: truncation,
dropped/duplicated/swapped lines, tokens replaced by garbage/NaN/huge/negative values, shuffled sections),
drawn from ``random.Random(--seed)``. An input is *loaded* or *refused* (an ``ncosolve.NcoError``); anything
else — another exception type, more than 5 s (a hang), or a blown 3 GiB allocation cap — is a *crash*, and
the first reproducer of each (reader, exception) is kept.

    python benchmarks/reliability.py [--per-seed 200] [--seed 0] [--out benchmarks/results/reliability.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fuzz"))
from fuzzing import Hang, mutate, outcome, read_mutated, seeds  # noqa: E402


def fuzz(per_seed: int, seed: int) -> tuple[dict, list[dict]]:
    """Counts per reader (inputs, loaded, refused, crashes) and the first reproducer of each distinct crash."""
    rng = random.Random(seed)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"inputs": 0, "loaded": 0, "refused": 0, "crashes": 0})
    crashes: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory() as work:
        for s in seeds(Path(work)):
            original = s.path.read_text(errors="replace")
            for _ in range(per_seed):
                text = mutate(original, rng.randint)
                row = counts[s.reader]
                row["inputs"] += 1
                try:
                    row[outcome(read_mutated(s, text))] += 1
                except (Exception, Hang) as exc:  # noqa: BLE001  (counting every escape is the point)
                    row["crashes"] += 1
                    key = (s.reader, type(exc).__name__)
                    crashes.setdefault(key, {"reader": s.reader, "seed_file": s.id, "exception": type(exc).__name__,
                                             "message": str(exc)[:300], "input": text[:2000], "count": 0})
                    crashes[key]["count"] += 1
    return dict(counts), list(crashes.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-seed", type=int, default=200, help="mutated inputs per seed file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "reliability.json")
    args = parser.parse_args()
    counts, crashes = fuzz(args.per_seed, args.seed)
    print(f"{'reader':<16}{'inputs':>8}{'loaded':>8}{'refused':>9}{'crashes':>9}")
    for reader, row in counts.items():
        print(f"{reader:<16}{row['inputs']:>8}{row['loaded']:>8}{row['refused']:>9}{row['crashes']:>9}")
    total = {k: sum(r[k] for r in counts.values()) for k in ("inputs", "loaded", "refused", "crashes")}
    print(f"{'total':<16}{total['inputs']:>8}{total['loaded']:>8}{total['refused']:>9}{total['crashes']:>9}")
    for c in crashes:
        print(f"crash: {c['reader']} ({c['seed_file']}) {c['exception']} x{c['count']}: {c['message'][:120]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"per_seed": args.per_seed, "seed": args.seed, "readers": counts,
                                    "total": total, "crashes": crashes}, indent=2) + "\n")


if __name__ == "__main__":
    main()
