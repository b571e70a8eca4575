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
- ``aequilibrae``: ncosolve's UE against AequilibraE's bi-conjugate Frank-Wolfe, alternated design by design in
  one run, one thread each (OMP / numba / BLAS / XLA thread counts 1 on both sides, AequilibraE's
  ``set_cores(1)``). AequilibraE runs in its own venv (``--aeq-python``) as a long-lived
  ``benchmarks/aequilibrae_peer.py`` subprocess fed one design at a time over stdin/stdout (JSON lines); its
  graph is built and prepared once per network, and per design only capacities (and closed links, see
  ``--aeq-closed`` and the peer's docstring) change. On each of ``--aeq-networks``: single solves of the base
  network to each of ``--aeq-single-tols`` (median of ``--aeq-repeats``, alternated), then ``--aeq-designs``
  designs at gap ``--aeq-tol`` (``aeq_cases``: SiouxFalls DNDP designs of SF_DNDP_10_1..8, EMA / Anaheim NDP-LA
  lane additions), our solve of design k then AequilibraE's: designs/s of each, iterations, relative TTT
  difference, machine load.
The surrogate parts need a SiouxFalls surrogate (``--surrogate``), made from the licensed data and so kept out
of the package: ``python scripts/train_ndp_surrogate.py --source ../shared/data --out <path>``. ``ndp-rl`` uses
the shipped policy (trained on synthetic cities only).
Data is read from ``../shared/data/{tntp,dndp}``; each part is skipped with a message when absent.

Usage: ``python benchmarks/network_design.py [--parts ue,large,throughput,dndp,sga10,dndp20,la,la-ema,aequilibrae] [--instances 1]
[--large-sides 16,24,32] [--large-tol 1e-4] [--time-limit 10] [--sga-fraction 0.04] [--instances20 3] [--time-limit20 20] [--la-time 30]
[--aeq-designs 32] [--aeq-python /work/venvs/aequilibrae/bin/python] [--aeq-networks SiouxFalls,EMA,Anaheim] [--aeq-tol 1e-4]
[--aeq-single-tols 1e-4,1e-5,1e-6] [--aeq-repeats 3] [--aeq-closed penalty] [--surrogate /work/runs/ndp/surrogate_siouxfalls.pt]
[--out benchmarks/results/network_design.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
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
from ncosolve.problems.network_generators import grid_city, lane_addition_instance
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


AEQ_NETWORKS = ("SiouxFalls", "EMA", "Anaheim")
PARTS = ("ue", "large", "throughput", "dndp", "sga10", "dndp20", "la", "la-ema", "aequilibrae")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def aeq_cases(network: str, designs: int, seed: int = 0, base=None) -> list[tuple[str, object, np.ndarray, np.ndarray]]:
    """The design batches of the ``aequilibrae`` part for one network, one per graph AequilibraE builds:
    (label, network, capacity (B, L), is_open (B, L)).

    SiouxFalls: ``designs`` in all, split evenly over SF_DNDP_10_1..8 (each file its own 86-link network: a
    design opens some of its 10 candidate links, closed ones carry no flow), drawn at random without
    replacement from each file's 1,024 designs. EMA and Anaheim (no DNDP files): NDP-LA designs, every link
    a candidate (``lane_addition_instance``), each given one more lane with probability 0.1; they change
    capacities only, every link stays open, on ``base`` (default: the network read from its TNTP file).
    """
    rng = np.random.default_rng(seed)
    if network == "SiouxFalls":
        files = sorted((DATA / "dndp").glob("SF_DNDP_10_*.txt"), key=lambda f: int(f.stem.rsplit("_", 1)[1]))
        cases = []
        for k, path in enumerate(files):
            count = designs // len(files) + (k < designs % len(files))
            if count == 0:
                continue
            inst = read_dndp(path, trips=DATA / "tntp" / "SiouxFalls_trips.tntp")
            pick = rng.choice(2 ** inst.num_candidates, count, replace=False)
            cap, is_open = inst.link_arrays(all_designs(inst.num_candidates)[np.sort(pick)])
            cases.append((inst.name, inst.network, cap, is_open))
        return cases
    inst = lane_addition_instance(base if base is not None else read_tntp(DATA / "tntp" / f"{network}_net.tntp"))
    cap, is_open = inst.link_arrays((rng.random((designs, inst.num_candidates)) < 0.1).astype(np.int64))
    return [(f"{network}-la", inst.network, cap, is_open)]


def peer_network_message(net, closed: str = "penalty") -> dict:
    """The ``network`` request of ``aequilibrae_peer.py``: every link of ``net`` (0-based nodes), its BPR
    parameters and base capacities, the demand, and whether zones block through traffic (TNTP's first
    through node above the zones, as on Anaheim)."""
    return {"cmd": "network", "init": net.init.tolist(), "term": net.term.tolist(),
            "free_flow_time": net.free_flow_time.tolist(), "b": net.b.tolist(), "power": net.power.tolist(),
            "capacity": net.capacity.tolist(), "demand": net.demand.tolist(),
            "block_centroids": bool(net.no_through().any()), "closed": closed}


class AequilibraePeer:
    """``benchmarks/aequilibrae_peer.py`` as a long-lived subprocess, one JSON line each way per request."""

    def __init__(self, python: str, log) -> None:
        import subprocess

        env = {**os.environ, **ONE_THREAD, "AEQ_SHOW_PROGRESS": "FALSE"}
        self.proc = subprocess.Popen([python, str(Path(__file__).with_name("aequilibrae_peer.py"))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env)

    def ask(self, msg: dict) -> dict:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("aequilibrae_peer.py exited (its stderr is in the log file)")
        return json.loads(line)

    def solve(self, cap, is_open, tol: float) -> dict:
        return self.ask({"cmd": "solve", "capacity": np.asarray(cap).tolist(),
                         "is_open": np.asarray(is_open).tolist(), "tol": tol})

    def close(self) -> None:
        self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _ours(net, cap, is_open, tol: float) -> dict:
    tick, cpu = time.perf_counter(), time.process_time()
    res = equilibrium_batch(net, cap[None], is_open[None], tol=tol)
    return {"seconds": time.perf_counter() - tick, "cpu_seconds": time.process_time() - cpu,
            "ttt": float(res.tstt[0]), "iterations": int(res.iterations[0]), "rgap": float(res.relative_gap[0])}


def aequilibrae(designs: int, python: str, networks: list[str], tol: float, single_tols: list[float],
                repeats: int, closed: str) -> dict:
    """Alternated UE throughput and single-solve times, ncosolve against AequilibraE's BFW, one core each.

    AequilibraE's graph is built and prepared once per network; per design only link fields change (see
    ``aequilibrae_peer.py``). Design k is solved by ``equilibrium_batch`` (one design, after compilation) and
    then by the peer, so machine load falls on both alike; each side's time is its own solve (the peer's
    measured inside it, without the JSON transport, which is reported apart)."""
    import tempfile

    log = tempfile.NamedTemporaryFile("w+", prefix="aequilibrae_peer_", suffix=".log", delete=False)
    peer = AequilibraePeer(python, log)
    report = {"tol": tol, "closed_links": closed, "load_before": os.getloadavg(), "throughput": [], "single": []}
    try:
        for name in networks:
            net = read_tntp(DATA / "tntp" / f"{name}_net.tntp")
            build = peer.ask(peer_network_message(net, closed))
            base_cap, base_open = net.capacity, np.ones(net.num_links, bool)
            _ours(net, base_cap, base_open, 1.0)  # compile
            peer.solve(base_cap, base_open, max(single_tols))  # warm-up
            for t in single_tols:
                runs = [(_ours(net, base_cap, base_open, t), peer.solve(base_cap, base_open, t))
                        for _ in range(repeats)]
                ours_s = float(np.median([o["seconds"] for o, _ in runs]))
                theirs_s = float(np.median([a["seconds"] for _, a in runs]))
                (o, a) = runs[-1]
                row = {"network": name, "links": net.num_links, "zones": net.num_zones, "tol": t,
                       "ours_s": ours_s, "aequilibrae_s": theirs_s, "speedup": theirs_s / ours_s,
                       "ours_iterations": o["iterations"], "aequilibrae_iterations": a["iterations"],
                       "ours_gap": o["rgap"], "aequilibrae_gap": a["rgap"], "ours_ttt": o["ttt"],
                       "aequilibrae_ttt": a["ttt"], "rel_ttt_diff": a["ttt"] / o["ttt"] - 1,
                       "aequilibrae_build_s": build["build_s"], "load": os.getloadavg()[0]}
                report["single"].append(row)
                print(row, flush=True)
            rows = []
            for label, dnet, cap, is_open in aeq_cases(name, designs, base=net):
                if dnet is not net:
                    build = peer.ask(peer_network_message(dnet, closed))
                    _ours(dnet, cap[0], is_open[0], 1.0)  # compile for this network
                peer.solve(cap[0], is_open[0], tol)  # warm-up on this graph
                for k in range(len(cap)):
                    o = _ours(dnet, cap[k], is_open[k], tol)
                    tick = time.perf_counter()
                    a = peer.solve(cap[k], is_open[k], tol)
                    rows.append({"case": label, "ours": o, "aequilibrae": a, "round_trip_s": time.perf_counter() - tick,
                                 "closed": int((~is_open[k]).sum())})
            ours_s = sum(r["ours"]["seconds"] for r in rows)
            theirs_s = sum(r["aequilibrae"]["seconds"] for r in rows)
            diff = np.array([r["aequilibrae"]["ttt"] / r["ours"]["ttt"] - 1 for r in rows])
            row = {"network": name, "designs": len(rows), "cases": sorted({r["case"] for r in rows}),
                   "ours_s": ours_s, "ours_cpu_s": sum(r["ours"]["cpu_seconds"] for r in rows),
                   "ours_designs_per_s": len(rows) / ours_s, "aequilibrae_s": theirs_s,
                   "aequilibrae_cpu_s": sum(r["aequilibrae"]["cpu_seconds"] for r in rows),
                   "aequilibrae_designs_per_s": len(rows) / theirs_s,
                   "aequilibrae_round_trip_s": sum(r["round_trip_s"] for r in rows),
                   "speedup": theirs_s / ours_s,
                   "speedup_cpu": sum(r["aequilibrae"]["cpu_seconds"] for r in rows)
                   / sum(r["ours"]["cpu_seconds"] for r in rows),
                   "ours_iterations_mean": float(np.mean([r["ours"]["iterations"] for r in rows])),
                   "aequilibrae_iterations_mean": float(np.mean([r["aequilibrae"]["iterations"] for r in rows])),
                   "ours_gap_max": max(r["ours"]["rgap"] for r in rows),
                   "aequilibrae_gap_max": max(r["aequilibrae"]["rgap"] for r in rows),
                   "max_abs_rel_ttt_diff": float(np.abs(diff).max()), "mean_rel_ttt_diff": float(diff.mean()),
                   "load": os.getloadavg()[0]}
            report["throughput"].append({**row, "per_design": rows})
            print(row, flush=True)
    finally:
        peer.close()
        report["load_after"] = os.getloadavg()
        report["peer_log"] = log.name
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="ue,throughput,dndp",
                        help=f"comma-separated, of {', '.join(PARTS)} (the docstring's Protocol says what each runs)")
    parser.add_argument("--instances", type=int, default=1, help="dndp, sga10: SF_DNDP_10_1 .. this many")
    parser.add_argument("--time-limit", type=float, default=10.0, help="dndp: seconds per method and instance")
    parser.add_argument("--sga-fraction", type=float, default=0.04,
                        help="sga10: ndp-surrogate-ga's limit as a fraction of ndp-exact's time on the instance")
    parser.add_argument("--instances20", type=int, default=3, help="dndp20: SF_DNDP_20_1 .. this many")
    parser.add_argument("--time-limit20", type=float, default=20.0, help="dndp20: seconds per method and instance")
    parser.add_argument("--la-time", type=float, default=30.0, help="la, la-ema: seconds per method")
    parser.add_argument("--large-sides", default="16,24,32", help="large: grid sides of the synthetic cities")
    parser.add_argument("--large-tol", type=float, default=1e-4, help="large: relative gap of each solve")
    parser.add_argument("--large-bf-links", type=int, default=1000,
                        help="large: run the JAX Bellman-Ford loader only up to this many links")
    parser.add_argument("--surrogate", default="/work/runs/ndp/surrogate_siouxfalls.pt",
                        help="sga10, dndp20, la: a SiouxFalls surrogate (scripts/train_ndp_surrogate.py)")
    parser.add_argument("--aeq-designs", type=int, default=32, help="aequilibrae: designs per network")
    parser.add_argument("--aeq-python", default="/work/venvs/aequilibrae/bin/python",
                        help="aequilibrae: the python of a venv with aequilibrae installed")
    parser.add_argument("--aeq-networks", default=",".join(AEQ_NETWORKS),
                        help=f"aequilibrae: comma-separated, of {', '.join(AEQ_NETWORKS)}")
    parser.add_argument("--aeq-tol", type=float, default=1e-4, help="aequilibrae: relative gap of the design solves")
    parser.add_argument("--aeq-single-tols", default="1e-4,1e-5,1e-6",
                        help="aequilibrae: relative gaps of the single base-network solves")
    parser.add_argument("--aeq-repeats", type=int, default=3, help="aequilibrae: repeats of each single solve")
    parser.add_argument("--aeq-closed", choices=("penalty", "exclude"), default="penalty",
                        help="aequilibrae: how AequilibraE drops a closed link (see aequilibrae_peer.py)")
    parser.add_argument("--out", default="benchmarks/results/network_design.json",
                        help="JSON report; parts not re-run keep their last results there")
    args = parser.parse_args()
    unknown = sorted(set(args.parts.split(",")) - set(PARTS))
    if unknown:
        parser.error(f"--parts: unknown {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    parts = args.parts.split(",")
    if "aequilibrae" in parts:  # one thread on our side too; XLA reads its flags when the backend starts
        os.environ.update(ONE_THREAD)
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {ONE_THREAD_XLA}".strip()
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
            report["aequilibrae"] = aequilibrae(
                args.aeq_designs, args.aeq_python, args.aeq_networks.split(","), args.aeq_tol,
                [float(t) for t in args.aeq_single_tols.split(",")], args.aeq_repeats, args.aeq_closed)
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
