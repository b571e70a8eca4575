"""Benchmark of the network-design stack: UE accuracy and speed, batched throughput, DNDP baselines.

Protocol
- ``ue``: ``ncosolve.equilibrium`` (BFW, in ``ncosolve.traffic``) on SiouxFalls and Anaheim at relative gaps 1e-5
  and 1e-6; reports TTT and Beckmann relative errors against the data README's best-known values, iterations
  and the second-call wall time (the first call includes JIT compilation, reported separately).
- ``large``: UE of seeded synthetic grid cities of ``--large-sides`` (every node a zone, gravity demand; 24
  x 24 is 2,208 links and 576 zones) at relative gap ``--large-tol``, with each all-or-nothing loader:
  Dijkstra on the host (the CPU default for such networks) and the pure-JAX Bellman-Ford sweeps (run only
  up to ``--large-bf-links`` links: they take minutes beyond); second-call wall time and iterations.
- ``throughput``: designs per second of ``equilibrium_batch`` on the 1,024 designs of SF_DNDP_10_1 at gap
  1e-4 (vectorised with vmap and one-by-one).
- ``dndp``: on the SF_DNDP_10_* instances (budget 0.5 of the total cost, SiouxFalls demand) the enumerated
  optimum (``ndp-exact``) against ``ndp-ga`` and ``ndp-greedy`` at ``--time-limit`` seconds, seed 0.
- ``sga10``: on SF_DNDP_10_1..``--instances``, ``ndp-surrogate-ga`` (seeds 0-2) with a time limit of
  ``--sga-fraction`` x the time ``ndp-exact`` took on the same instance just before (both in this process,
  after JAX compilation, so machine load affects both alike): its gap to the enumerated optimum and its
  measured time as a fraction of enumeration's.
- ``dndp20``: on SF_DNDP_20_1..``--instances20`` every method at ``--time-limit20`` seconds, gaps to the best
  design any of them found.
- ``la``: NDP-LA on SiouxFalls (every link, 2 lanes below the median capacity and 4 above, budget 0.5):
  ``ndp-ga`` (true UE) and ``ndp-surrogate-ga`` at equal wall time ``--la-time``, and ``ndp-rl`` beside them.
- ``la-ema``: the same on Eastern-Massachusetts (EMA, 258 links) with the shipped surrogate and policy, both
  trained on synthetic cities only (no EMA-trained model exists).
- ``aequilibrae``: UE throughput at relative gap 1e-4 on the first ``--aeq-designs`` designs of SF_DNDP_10_1:
  ``equilibrium_batch`` (one by one, the CPU default) against AequilibraE's bi-conjugate Frank-Wolfe (one core)
  run by ``benchmarks/aequilibrae_peer.py`` in its own venv (``--aeq-python``); wall and CPU seconds, and the
  largest relative TTT difference between the two.
The surrogate parts need a SiouxFalls surrogate (``--surrogate``), made from the licensed data and so kept out
of the package: ``python scripts/train_ndp_surrogate.py --source ../shared/data --out <path>``. ``ndp-rl`` uses
the shipped policy (trained on synthetic cities only).
Data is read from ``../shared/data/{tntp,dndp}``; each part is skipped with a message when absent.

Usage: ``python benchmarks/network_design.py [--parts ue,large,throughput,dndp,sga10,dndp20,la,la-ema,aequilibrae] [--instances 1]
[--large-sides 16,24,32] [--large-tol 1e-4] [--time-limit 10] [--sga-fraction 0.04] [--instances20 3] [--time-limit20 20] [--la-time 30]
[--aeq-designs 32] [--aeq-python /work/venvs/aequilibrae/bin/python] [--surrogate /work/runs/ndp/surrogate_siouxfalls.pt]
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
from ncosolve.baselines import ndp_exact, ndp_ga, ndp_greedy, ndp_sorb  # noqa: F401  (register the methods)
from ncosolve.baselines.ndp_exact import all_designs
from ncosolve.traffic import equilibrium, equilibrium_batch
from ncosolve.io.tntp import read_dndp, read_tntp
from ncosolve.ndp_generators import grid_city, lane_addition_instance
from ncosolve.policies import ndp_rl, ndp_surrogate  # noqa: F401  (register the learned methods)

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


def large(sides: list[int], tol: float, bf_links: int) -> list[dict]:
    """UE time on grid cities of a few thousand links, Dijkstra vs Bellman-Ford all-or-nothing loading."""
    rows = []
    for side in sides:
        net, _ = grid_city(side, side, seed=0)
        for paths in ("dijkstra", "bellman-ford"):
            if paths == "bellman-ford" and net.num_links > bf_links:
                continue
            equilibrium(net, tol=1.0, paths=paths)  # compile for this topology
            tick = time.perf_counter()
            res = equilibrium(net, tol=tol, paths=paths)
            sec = time.perf_counter() - tick
            rows.append({"network": net.name, "links": net.num_links, "zones": net.num_zones, "paths": paths,
                         "tol": tol, "gap": res.relative_gap, "iterations": res.iterations, "tstt": res.tstt,
                         "seconds": sec, "ms_per_iteration": 1000 * sec / max(res.iterations, 1)})
            print(rows[-1], flush=True)
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


def _dndp(links: int, k: int):
    return read_dndp(DATA / "dndp" / f"SF_DNDP_{links}_{k}.txt", trips=DATA / "tntp" / "SiouxFalls_trips.tntp")


def _row(inst, res, **extra) -> dict:
    row = {"instance": inst.name, "method": res.method, "cost": res.cost, "runtime_s": res.runtime_s,
           "design": [int(v) for v in res.solution], **extra}
    print({k: v for k, v in row.items() if k != "design"})
    return row


def sga10(instances: int, fraction: float, surrogate: str) -> list[dict]:
    """ndp-surrogate-ga against the enumerated optimum on the 10-link instances: gap and time fraction."""
    rows = []
    for k in range(1, instances + 1):
        inst = _dndp(10, k)
        ncosolve.evaluate(inst, np.zeros(inst.num_candidates))  # JAX compilation, outside both timings
        exact = ncosolve.solve(inst, method="ndp-exact", time_limit=3600)
        rows.append(_row(inst, exact, gap_to_exact=0.0, complete=exact.info["complete"]))
        for seed in range(3):
            res = ncosolve.solve(inst, method="ndp-surrogate-ga", time_limit=fraction * exact.runtime_s, seed=seed,
                                 checkpoint=surrogate)
            rows.append(_row(inst, res, seed=seed, gap_to_exact=res.cost / exact.cost - 1,
                             time_fraction=res.runtime_s / exact.runtime_s,
                             true_evaluations=res.info["true_evaluations"],
                             surrogate_evaluations=res.info["surrogate_evaluations"]))
    return rows


def dndp20(instances: int, time_limit: float, surrogate: str) -> list[dict]:
    """Every method on the 20-link instances; gaps to the best design found by any."""
    rows = []
    for k in range(1, instances + 1):
        inst = _dndp(20, k)
        runs = [ncosolve.solve(inst, method=m, time_limit=time_limit) for m in ("ndp-greedy", "ndp-ga", "ndp-sorb")]
        runs.append(ncosolve.solve(inst, method="ndp-rl", time_limit=time_limit))
        runs.append(ncosolve.solve(inst, method="ndp-surrogate-ga", time_limit=time_limit, checkpoint=surrogate))
        best = min(r.cost for r in runs)
        rows += [_row(inst, r, gap_to_best=r.cost / best - 1, info={k: v for k, v in r.info.items()
                                                                       if isinstance(v, (int, float, bool, str))})
                 for r in runs]
    return rows


def lane_addition(la_time: float, surrogate: str | None, network: str = "SiouxFalls") -> list[dict]:
    """NDP-LA on ``network`` at budget 0.5: GA over true UE vs surrogate GA at equal wall time, and ndp-rl
    (``surrogate`` None: the shipped one, trained on synthetic cities)."""
    inst = lane_addition_instance(read_tntp(DATA / "tntp" / f"{network}_net.tntp"), budget_ratio=0.5)
    base = ncosolve.evaluate(inst, np.zeros(inst.num_candidates))
    runs = [ncosolve.solve(inst, method="ndp-ga", time_limit=la_time),
            ncosolve.solve(inst, method="ndp-surrogate-ga", time_limit=la_time, checkpoint=surrogate),
            ncosolve.solve(inst, method="ndp-rl", time_limit=la_time),
            ncosolve.solve(inst, method="ndp-greedy", time_limit=la_time)]
    best = min(r.cost for r in runs)
    return [_row(inst, r, saving_vs_do_nothing=1 - r.cost / base, gap_to_best=r.cost / best - 1,
                 info={k: v for k, v in r.info.items() if isinstance(v, (int, float, bool, str))}) for r in runs]


def aequilibrae(designs: int, python: str) -> dict:
    """Designs per second (wall and CPU) of our batched UE and of AequilibraE's BFW on the same designs."""
    import os
    import subprocess
    import tempfile

    inst = _dndp(10, 1)
    net = inst.network
    cap, is_open = inst.link_arrays(all_designs(inst.num_candidates)[:designs])
    equilibrium_batch(net, cap[:2], is_open[:2], tol=1e-4)  # compile
    tick, cpu = time.perf_counter(), time.process_time()
    ours = equilibrium_batch(net, cap, is_open, tol=1e-4)
    ours_s, ours_cpu = time.perf_counter() - tick, time.process_time() - cpu
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "designs.npz"
        np.savez(path, init=net.init, term=net.term, free_flow_time=net.free_flow_time, b=net.b, power=net.power,
                 capacity=cap, is_open=is_open, demand=net.demand, tol=1e-4)
        run = subprocess.run([python, str(Path(__file__).with_name("aequilibrae_peer.py")), str(path)],
                             capture_output=True, text=True, env={**os.environ, "AEQ_SHOW_PROGRESS": "FALSE"},
                             check=True)
    peer = json.loads(run.stdout.strip().splitlines()[-1])
    theirs = np.array([d["ttt"] for d in peer["designs"]])
    row = {"designs": designs, "ours_s": ours_s, "ours_cpu_s": ours_cpu, "ours_designs_per_s": designs / ours_s,
           "ours_iterations_mean": float(ours.iterations.mean()), "aequilibrae_s": peer["seconds"],
           "aequilibrae_cpu_s": peer["cpu_seconds"], "aequilibrae_designs_per_s": designs / peer["seconds"],
           "aequilibrae_iterations_mean": float(np.mean([d["iterations"] for d in peer["designs"]])),
           "speedup_wall": peer["seconds"] / ours_s, "speedup_cpu": peer["cpu_seconds"] / ours_cpu,
           "max_rel_ttt_diff": float(np.max(np.abs(theirs / ours.tstt - 1)))}
    print(row)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="ue,throughput,dndp")
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--sga-fraction", type=float, default=0.04)
    parser.add_argument("--instances20", type=int, default=3)
    parser.add_argument("--time-limit20", type=float, default=20.0)
    parser.add_argument("--la-time", type=float, default=30.0)
    parser.add_argument("--large-sides", default="16,24,32")
    parser.add_argument("--large-tol", type=float, default=1e-4)
    parser.add_argument("--large-bf-links", type=int, default=1000)
    parser.add_argument("--surrogate", default="/work/runs/ndp/surrogate_siouxfalls.pt")
    parser.add_argument("--aeq-designs", type=int, default=32)
    parser.add_argument("--aeq-python", default="/work/venvs/aequilibrae/bin/python")
    parser.add_argument("--out", default="benchmarks/results/network_design.json")
    args = parser.parse_args()
    parts = args.parts.split(",")
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
              "jax": jax.__version__, "backend": jax.default_backend()}
    if "large" in parts:  # synthetic networks: needs no data
        report["large"] = large([int(v) for v in args.large_sides.split(",")], args.large_tol, args.large_bf_links)
    if not (DATA / "tntp" / "SiouxFalls_net.tntp").is_file():
        print(f"skipped every part but 'large': TransportationNetworks data not found in {DATA / 'tntp'}")
        parts = []
    if "ue" in parts:
        report["ue"] = ue_accuracy()
    if "throughput" in parts:
        report["throughput"] = throughput()
    if "dndp" in parts:
        report["dndp"] = dndp(args.instances, args.time_limit)
    if "aequilibrae" in parts:
        if Path(args.aeq_python).is_file():
            report["aequilibrae"] = aequilibrae(args.aeq_designs, args.aeq_python)
        else:
            print(f"skipped aequilibrae: no interpreter at {args.aeq_python} (python -m venv <dir> && "
                  "<dir>/bin/pip install aequilibrae)")
    learned = [p for p in parts if p in ("sga10", "dndp20", "la")]
    if learned and not Path(args.surrogate).is_file():
        print(f"skipped {learned}: no SiouxFalls surrogate at {args.surrogate} (make one with "
              "scripts/train_ndp_surrogate.py --source ../shared/data)")
        learned = []
    report["surrogate"] = args.surrogate
    if "sga10" in learned:
        report["sga10"] = sga10(args.instances, args.sga_fraction, args.surrogate)
    if "dndp20" in learned:
        report["dndp20"] = dndp20(args.instances20, args.time_limit20, args.surrogate)
    if "la" in learned:
        report["la"] = lane_addition(args.la_time, args.surrogate)
    if "la-ema" in parts:
        report["la_ema"] = lane_addition(args.la_time, None, "EMA")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.is_file() else {}  # parts not re-run keep their last results
    out.write_text(json.dumps({**previous, **report}, indent=1, default=float))


if __name__ == "__main__":
    main()
