"""Benchmark of the network-design stack: UE accuracy and speed, batched throughput, DNDP baselines.

Protocol
- ``ue``: ``ncosolve.equilibrium`` (BFW) on SiouxFalls and Anaheim at relative gaps 1e-5 and 1e-6; reports
  TTT and Beckmann relative errors against the data README's best-known values, iterations and the
  second-call wall time (the first call includes JIT compilation, reported separately).
- ``throughput``: designs per second of ``equilibrium_batch`` on the 1,024 designs of SF_DNDP_10_1 at gap
  1e-4 (vectorised with vmap and one-by-one).
- ``dndp``: on the SF_DNDP_10_* instances (budget 0.5 of the total cost, SiouxFalls demand) the enumerated
  optimum (``ndp-exact``) against ``ndp-ga`` and ``ndp-greedy`` at ``--time-limit`` seconds, seed 0.
Data is read from ``../shared/data/{tntp,dndp}``; each part is skipped with a message when absent.

Usage: ``python benchmarks/network_design.py [--parts ue,throughput,dndp] [--instances 1] [--time-limit 10]
[--out benchmarks/results/network_design.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import jax
import numpy as np

import ncosolve
from ncosolve.baselines import ndp_exact, ndp_ga, ndp_greedy  # noqa: F401  (register the methods)
from ncosolve.baselines.ndp_exact import all_designs
from ncosolve.equilibrium import equilibrium, equilibrium_batch
from ncosolve.io.tntp import read_dndp, read_tntp

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BEST = {"SiouxFalls": (7_480_225.34, 4_231_335.29), "Anaheim": (1_419_913.85, 1_286_032.17)}


def ue_accuracy() -> list[dict]:
    """TTT / Beckmann errors against best-known values, per network and gap."""
    rows = []
    for name, (ttt, beck) in BEST.items():
        net = read_tntp(DATA / "tntp" / f"{name}_net.tntp")
        for tol in (1e-5, 1e-6):
            tick = time.perf_counter()
            equilibrium(net, tol=tol)
            first = time.perf_counter() - tick
            tick = time.perf_counter()
            res = equilibrium(net, tol=tol)
            rows.append({"network": name, "tol": tol, "gap": res.relative_gap, "iterations": res.iterations,
                         "tstt": res.tstt, "tstt_rel_err": res.tstt / ttt - 1, "beckmann": res.beckmann,
                         "beckmann_rel_err": res.beckmann / beck - 1, "seconds": time.perf_counter() - tick,
                         "first_call_seconds": first})
            print(rows[-1])
    return rows


def throughput() -> list[dict]:
    """Designs per second over the 1,024 designs of SF_DNDP_10_1 at gap 1e-4."""
    inst = read_dndp(DATA / "dndp" / "SF_DNDP_10_1.txt", trips=DATA / "tntp" / "SiouxFalls_trips.tntp")
    cap, is_open = inst.link_arrays(all_designs(inst.num_candidates))
    rows = []
    for vectorize in (True, False):
        equilibrium_batch(inst.network, cap[:64], is_open[:64], tol=1e-4, vectorize=vectorize)  # compile
        tick = time.perf_counter()
        equilibrium_batch(inst.network, cap, is_open, tol=1e-4, vectorize=vectorize)
        sec = time.perf_counter() - tick
        rows.append({"vectorize": vectorize, "designs": len(cap), "seconds": sec, "designs_per_s": len(cap) / sec})
        print(rows[-1])
    return rows


def dndp(instances: int, time_limit: float) -> list[dict]:
    """Exact optimum vs GA and greedy on the 10-link SiouxFalls DNDP instances."""
    rows = []
    for k in range(1, instances + 1):
        inst = read_dndp(DATA / "dndp" / f"SF_DNDP_10_{k}.txt", trips=DATA / "tntp" / "SiouxFalls_trips.tntp")
        exact = ncosolve.solve(inst, method="ndp-exact", time_limit=3600)
        for method in ("ndp-exact", "ndp-ga", "ndp-greedy"):
            res = exact if method == "ndp-exact" else ncosolve.solve(inst, method=method, time_limit=time_limit)
            rows.append({"instance": inst.name, "method": method, "cost": res.cost, "runtime_s": res.runtime_s,
                         "gap_to_exact": res.cost / exact.cost - 1, "design": [int(v) for v in res.solution],
                         "complete": res.info.get("complete")})
            print(rows[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="ue,throughput,dndp")
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--out", default="benchmarks/results/network_design.json")
    args = parser.parse_args()
    if not (DATA / "tntp" / "SiouxFalls_net.tntp").is_file():
        print(f"skipped: TransportationNetworks data not found in {DATA / 'tntp'}")
        return
    parts = args.parts.split(",")
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
              "jax": jax.__version__, "backend": jax.default_backend()}
    if "ue" in parts:
        report["ue"] = ue_accuracy()
    if "throughput" in parts:
        report["throughput"] = throughput()
    if "dndp" in parts:
        report["dndp"] = dndp(args.instances, args.time_limit)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
