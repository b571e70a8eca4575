"""Benchmark of the shipped attention checkpoints against a reference solver run in the same process.

Protocol: for each shipped checkpoint (problem, size), the first ``--n`` instances of the Kool-compatible
test set (``ncosolve.generate(problem, n, size, seed=1234)``; ATSP: ``generate_atsp(..., seed=1234)``)
are solved by the reference (LKH-3 for TSP/ATSP if installed, else OR-Tools; PyVRP for CVRP) with
``--ref-time`` seconds each, and by the policy: ``attention`` (greedy multi-start + x8 augmentation,
batched: the per-instance time is the batch time / n), and ``attention+2opt`` through ``solve()`` when
the local search is installed, with ``2opt`` (the same local search from one classical start) beside it at the
same ``--polish-time``. ``--other-sizes`` adds sizes without a checkpoint of their own (nearest
size). Every cost is re-checked by ``evaluate()``. ``--ref-cache FILE`` keeps the reference costs by (method,
seconds, instance fingerprint), so a 256 x 10 s PyVRP run is paid once and resumes where it stopped
(``--ref-only`` fills it and stops). Optionally (``--tsplib``) the TSPLIB instances <= 200
nodes and CVRPLIB sets A and X (<= 200 customers) against their best-known values (generalisation).
``--tasks tsp100,cvrp100`` runs only those tasks (two shells can split the work).

``--solomon`` runs instead every shipped Solomon instance (100 customers, each with its fleet) by ``attention``,
``attention+2opt``, ``2opt``, ``ortools`` and ``pyvrp`` at ``--solomon-time`` seconds each, alternating methods
per instance, and prints the mean gap to the best-known value per family (C1, C2, R2, RC1: the R1 files are not
in the data).

The issue's first-milestone targets (1,000 instances, TSP50 <= 1.5 %, CVRP50 <= 5 %, ...) are printed
beside the figures; the shipped checkpoints are small CPU-trained models (BENCHMARKS.md says which
targets they meet).

``--rl4co`` runs instead the side-by-side with rl4co's own POMO (``rl4co-pomo``): for each shipped rl4co
checkpoint (or ``--rl4co-checkpoint``), the same first ``--n`` test instances, the same reference in the same run,
``attention`` with its checkpoint of that task (or ``--attention-checkpoint``) and ``rl4co-pomo``, both batched
multi-start greedy + x8 augmentation, with both training budgets (samples) in the JSON
(default ``benchmarks/results/attention_vs_rl4co.json``).

``--inference`` times batched decoding alone on the first ``--n`` TSP100 test instances (the tsp100
checkpoint): multi-start greedy with x8 and with x1 augmentation, in one process and split over
``--processes`` worker processes of one torch thread each (the issue's "ms per instance on this 2-core CPU").

Usage: ``python benchmarks/attention_routing.py [--n 20] [--ref-time 1] [--tsplib]
[--other-sizes tsp200,cvrp200] [--out benchmarks/results/attention_routing.json]``;
``python benchmarks/attention_routing.py --rl4co --n 100 [--rl4co-checkpoint P] [--attention-checkpoint P]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import ncosolve
from ncosolve.policies.atsp import generate_atsp
from ncosolve.policies.checkpoint import find_checkpoint, load_policy, shipped_checkpoints
from ncosolve.policies.decode import Decoding, decode
from ncosolve.policies.reinforce import reference_costs
from ncosolve.catalog import get_method

TARGETS = {("tsp", 50): 1.5, ("tsp", 100): 3.0, ("cvrp", 50): 5.0, ("cvrp", 100): 6.0, ("cvrptw", 100): 8.0}
DEFAULT_OUT = Path(__file__).parent / "results" / "attention_routing.json"
RL4CO_OUT = Path(__file__).parent / "results" / "attention_vs_rl4co.json"
INFERENCE_OUT = Path(__file__).parent / "results" / "attention_inference.json"
SOLOMON_OUT = Path(__file__).parent / "results" / "attention_solomon.json"


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="first N test instances per checkpoint (default 20)")
    parser.add_argument("--ref-time", type=float, default=1.0, help="reference seconds per instance (default 1)")
    parser.add_argument("--polish-time", type=float, default=1.0, help="attention+2opt (and 2opt) seconds per instance; 0 skips both")
    parser.add_argument("--tsplib", action="store_true", help="also TSPLIB <= 200 nodes, CVRPLIB A and X <= 200")
    parser.add_argument("--tasks", default="", help="comma-separated tasks to run (e.g. tsp100,cvrp100); default all")
    parser.add_argument("--other-sizes", default="",
                        help="comma-separated tasks without their own checkpoint, run with the nearest size")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--rl4co", action="store_true", help="only the side-by-side with rl4co-pomo")
    parser.add_argument("--rl4co-checkpoint", type=Path, help="with --rl4co: this rl4co-pomo checkpoint")
    parser.add_argument("--attention-checkpoint", type=Path, action="append",
                        help="with --rl4co: this attention checkpoint (repeat for several)")
    parser.add_argument("--inference", action="store_true", help="only the TSP100 decoding-speed table")
    parser.add_argument("--processes", type=int, default=2, help="with --inference: worker processes (default 2)")
    parser.add_argument("--ref-cache", type=Path,
                        help="JSON of reference costs by (method, seconds, instance fingerprint): read, and extended "
                             "with what is missing after each instance, so a long reference run resumes")
    parser.add_argument("--ref-only", action="store_true", help="only fill --ref-cache for the chosen tasks (writes no --out file)")
    parser.add_argument("--multistart", type=int, default=0,
                        help="VRPs: on the first N instances also the same polish from up to 128 random-insertion "
                             "starts in --polish-time (the classical counterpart of attention+2opt)")
    parser.add_argument("--solomon", action="store_true",
                        help="only the Solomon table: " + ", ".join(SOLOMON_METHODS) + " at --solomon-time each")
    parser.add_argument("--solomon-time", type=float, default=10.0, help="seconds per method and instance (10)")
    parser.add_argument("--out", type=Path, help="JSON output (default: the mode's file in benchmarks/results)")
    args = parser.parse_args(argv)
    args.out = args.out or (RL4CO_OUT if args.rl4co else INFERENCE_OUT if args.inference
                            else SOLOMON_OUT if args.solomon else DEFAULT_OUT)
    return args


def reference_method(problem: str) -> str:
    """PyVRP for CVRP and CVRPTW; LKH-3 for TSP when installed, else OR-Tools."""
    if problem != "tsp":
        return "pyvrp"
    return "lkh" if get_method("lkh").available else "ortools"


def test_set(problem: str, variant: str, size: int, n: int) -> list:
    """The first ``n`` seed-1234 test instances of a checkpoint's task."""
    if variant == "matrix":
        return generate_atsp(n, size, seed=1234)
    return ncosolve.generate(problem, n, size, seed=1234)


def cached_reference_costs(instances, method: str, time_limit: float, cache: Path | None) -> np.ndarray:
    """``reference_costs`` through the JSON file ``cache`` (None: no cache): an entry is keyed by method, time
    limit and the instance's data fingerprint, so it cannot answer for another instance or budget."""
    if cache is None:
        return reference_costs(instances, method, time_limit, tries=4)
    from ncosolve.references import fingerprint

    stored = json.loads(cache.read_text()) if cache.exists() else {}
    costs = []
    for inst in instances:
        key = f"{method}|{time_limit:g}|{fingerprint(inst)}"
        if key not in stored:
            stored[key] = float(reference_costs([inst], method, time_limit, tries=4)[0])
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(stored, indent=0, sort_keys=True) + "\n")
            os.replace(tmp, cache)
        costs.append(stored[key])
    return np.array(costs)


def run_generated(path: Path, cfg, args, size: int | None = None) -> dict:
    """Reference vs attention (and attention+2opt) on the first n test instances of a checkpoint's task
    (of ``size`` instead of its training size when given)."""
    size = cfg.size if size is None else size
    instances = test_set(cfg.problem, cfg.variant, size, args.n)
    ref = reference_method(cfg.problem)
    ref_costs = cached_reference_costs(instances, ref, args.ref_time, args.ref_cache)  # 4 tries: LKH at 0.5 s
    if args.ref_only:
        return {"task": f"{cfg.problem}{size}", "instances": len(instances), "reference": ref,
                "reference_mean_cost": float(ref_costs.mean())}
    policy, meta = load_policy(path, cfg.problem)
    start = time.perf_counter()
    solutions, lengths = decode(policy, instances, Decoding())
    per_instance = (time.perf_counter() - start) / len(instances)
    costs = [ncosolve.evaluate(i, s) for i, s in zip(instances, solutions)]
    row = {"checkpoint": path.name, "task": f"{'atsp' if cfg.variant == 'matrix' else cfg.problem}{size}",
           "instances": len(instances), "reference": ref, "reference_time_s": args.ref_time,
           "reference_mean_cost": statistics.fmean(ref_costs),
           "attention_mean_cost": statistics.fmean(costs),
           "attention_gap_pct": 100 * statistics.fmean(c / r - 1 for c, r in zip(costs, ref_costs)),
           "attention_ms_per_instance": 1000 * per_instance,
           "target_gap_pct": TARGETS.get((cfg.problem, size)) if cfg.variant == "euclidean" else None,
           "training": meta["training"]}
    if args.polish_time > 0 and "attention+2opt" in {m.name for m in ncosolve.methods(cfg.problem)}:
        results = [ncosolve.solve(i, "attention+2opt", time_limit=args.polish_time, checkpoint=str(path))
                   for i in instances]
        row["attention+2opt_gap_pct"] = 100 * statistics.fmean(r.cost / c - 1 for r, c in zip(results, ref_costs))
        row["attention+2opt_mean_time_s"] = statistics.fmean(r.runtime_s for r in results)
        row["attention+2opt_polished_mean"] = statistics.fmean(r.info.get("polished", 1) for r in results)
        # the same local search from one classical start: what the learned candidates add
        classical = [ncosolve.solve(i, "2opt", time_limit=args.polish_time) for i in instances]
        row["2opt_gap_pct"] = 100 * statistics.fmean(r.cost / c - 1 for r, c in zip(classical, ref_costs))
        row["2opt_mean_time_s"] = statistics.fmean(r.runtime_s for r in classical)
        if args.multistart and cfg.problem != "tsp":
            k = min(args.multistart, len(instances))
            starts = [multistart_polish(i, args.polish_time) for i in instances[:k]]
            row["multistart"] = {
                "instances": k, "starts_mean": statistics.fmean(s for _, s in starts),
                "gap_pct": 100 * statistics.fmean(c / r - 1 for (c, _), r in zip(starts, ref_costs)),
                "attention+2opt_gap_pct": 100 * statistics.fmean(r.cost / c - 1 for r, c in zip(results, ref_costs[:k]))}
    return row


def multistart_polish(instance, time_limit: float, most: int = 128) -> tuple[float, int]:
    """The classical counterpart of ``attention+2opt``: up to ``most`` random-order insertion starts (seeds 0, 1,
    ...), each polished by the same ``polish_routes``, until 90% of ``time_limit``; (best cost, starts used)."""
    from ncosolve.baselines.constructive import insertion_routes
    from ncosolve.baselines.local_search import between_routes, cost_or_inf, polish_routes

    start = time.perf_counter()
    end, between, best, used = start + 0.9 * time_limit, between_routes(instance), float("inf"), 0
    while used < most and (used == 0 or time.perf_counter() < end):
        routes = insertion_routes(instance, "random", seed=used)
        polished = polish_routes(instance, routes, max(0.0, end - time.perf_counter()), between)[0]
        best, used = min(best, cost_or_inf(instance, polished)), used + 1
    return best, used


SOLOMON_METHODS = ("attention", "attention+2opt", "2opt", "ortools", "pyvrp")


def run_solomon(args) -> list[dict]:
    """Every shipped Solomon instance (100 customers, their fleet) by each of ``SOLOMON_METHODS`` with the same
    budget, methods alternating per instance; gaps to the best-known values."""
    rows = []
    for inst in ncosolve.load_benchmark("solomon"):
        best = ncosolve.best_known(inst)
        for method in SOLOMON_METHODS:
            ncosolve.prepare(inst, method)
            result = ncosolve.solve(inst, method, time_limit=args.solomon_time)
            rows.append({"instance": inst.name, "family": inst.name[:-2], "method": method,
                         "feasible": result.feasible, "cost": result.cost if result.feasible else None,
                         "best_known": best, "routes": len(result.solution) if result.feasible else None,
                         "gap_pct": 100 * (result.cost / best - 1) if result.feasible else None,
                         "runtime_s": result.runtime_s, "load": os.getloadavg()[0]})
            print(f"{inst.name:6} {method:15} gap {rows[-1]['gap_pct'] if result.feasible else float('nan'):6.2f}% "
                  f"t {result.runtime_s:5.2f}s routes {rows[-1]['routes']}", flush=True)
    return rows


def solomon_table(rows: list[dict]) -> dict:
    """Mean gap (%) per Solomon family and method; a family's mean counts only when every run was feasible."""
    table = {}
    for family in sorted({r["family"] for r in rows}):
        table[family] = {}
        for method in SOLOMON_METHODS:
            mine = [r for r in rows if r["family"] == family and r["method"] == method]
            ok = all(r["feasible"] for r in mine)
            table[family][method] = {"instances": len(mine), "feasible": sum(r["feasible"] for r in mine),
                                     "mean_gap_pct": statistics.fmean(r["gap_pct"] for r in mine) if ok else None}
    print("family  " + "".join(f"{m:>16}" for m in SOLOMON_METHODS))
    for family, cells in table.items():
        print(f"{family:7} " + "".join(f"{c['mean_gap_pct']:15.2f}%" if c["mean_gap_pct"] is not None
                                       else f"{c['feasible']:>9}/{c['instances']} ok" for c in cells.values()))
    return table


def run_rl4co(args) -> list[dict]:
    """attention vs rl4co-pomo on the same first n test instances of each rl4co checkpoint's task."""
    from ncosolve.policies.rl4co_pomo import load_pomo, pomo_decode, read_pomo, shipped_pomo

    pairs = ([(args.rl4co_checkpoint, read_pomo(args.rl4co_checkpoint)[0]["config"])] if args.rl4co_checkpoint
             else shipped_pomo())
    rows = []
    for path, cfg in pairs:
        problem, size = cfg["problem"], cfg["size"]
        instances = test_set(problem, "euclidean", size, args.n)
        ref = reference_method(problem)
        ref_costs = reference_costs(instances, ref, args.ref_time)  # refuses a reference that found nothing
        row = {"task": f"{problem}{size}", "instances": len(instances), "reference": ref,
               "reference_time_s": args.ref_time, "reference_mean_cost": float(ref_costs.mean())}
        pomo, _ = load_pomo(str(Path(path).resolve()), problem)
        runs = []
        for ours in args.attention_checkpoint or [find_checkpoint(instances[0])]:
            policy, meta = load_policy(ours, problem)
            runs.append(("attention", ours, meta["training"],
                         lambda policy=policy: decode(policy, instances, Decoding())[0]))
        chunks = [instances[lo:lo + 50] for lo in range(0, len(instances), 50)]
        runs.append(("rl4co-pomo", path, read_pomo(path)[0]["training"],
                     lambda: [s for chunk in chunks for s in pomo_decode(pomo, cfg, chunk)]))
        row["methods"] = []
        for name, ckpt, training, run in runs:
            with torch.inference_mode():
                start = time.perf_counter()
                solutions = run()
                per_instance = (time.perf_counter() - start) / len(instances)
            costs = np.array([ncosolve.evaluate(i, s) for i, s in zip(instances, solutions)])
            row["methods"].append({"method": name, "checkpoint": Path(ckpt).name,
                                   "training_samples": training.get("samples"),
                                   "training_wall_s": training.get("wall_s"),
                                   "training_hardware": training.get("hardware"), "mean_cost": float(costs.mean()),
                                   "gap_pct": float(100 * np.mean(costs / ref_costs - 1)),
                                   "ms_per_instance": 1000 * per_instance})
        rows.append(row)
        for m in row["methods"]:
            print(f"{row['task']:7} n={len(instances)} ref={ref} {m['method']:10} {m['checkpoint']:22} "
                  f"{m['training_samples']:>7} samples  gap {m['gap_pct']:.2f}%  {m['ms_per_instance']:.1f} ms/inst",
                  flush=True)
    return rows


_worker_policy = None


def _init_worker(path: str) -> None:
    """A decoding worker: one torch thread, the policy loaded once."""
    global _worker_policy
    torch.set_num_threads(1)
    _worker_policy = load_policy(path, "tsp")[0]


def _decode_in_worker(instances, augment: int) -> list:
    """Multi-start greedy in a worker; the solutions."""
    return decode(_worker_policy, instances, Decoding(augment=augment))[0]


def run_inference(args) -> list[dict]:
    """ms per instance of batched multi-start greedy on TSP100, x8 and x1 augmentation, 1 and N processes."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    instances = test_set("tsp", "euclidean", 100, args.n)
    path = str(find_checkpoint(instances[0]))
    rows = []
    with ProcessPoolExecutor(args.processes, mp_context=get_context("spawn"), initializer=_init_worker,
                             initargs=(path,)) as pool:
        for augment in (8, 1):
            for processes in sorted({1, args.processes}):
                parts = [instances[k::processes] for k in range(processes)]
                list(pool.map(_decode_in_worker, [p[:1] for p in parts], [augment] * processes))  # warm up
                start = time.perf_counter()
                solved = list(pool.map(_decode_in_worker, parts, [augment] * processes))
                per_instance = (time.perf_counter() - start) / len(instances)
                costs = [ncosolve.evaluate(inst, sol) for part, sols in zip(parts, solved)
                         for inst, sol in zip(part, sols)]
                rows.append({"task": "tsp100", "checkpoint": Path(path).name, "instances": len(instances),
                             "augment": augment, "processes": processes, "ms_per_instance": 1000 * per_instance,
                             "mean_cost": statistics.fmean(costs)})
                print(f"tsp100 x{augment} aug, {processes} process(es): {1000 * per_instance:.1f} ms/inst, "
                      f"mean cost {rows[-1]['mean_cost']:.4f}", flush=True)
    return rows


def run_library() -> list[dict]:
    """Gaps of ``attention`` (nearest-size shipped checkpoint) to best-known values on real instances of at most
    200 customers / 201 nodes: TSPLIB, CVRPLIB A and X."""
    rows = []
    suites = [("tsplib-200", "tsp"), ("cvrplib-A", "cvrp"), ("cvrplib-X", "cvrp")]
    for suite, problem in suites:
        if not any(c.problem == problem for _, c in shipped_checkpoints()):
            continue
        for inst in ncosolve.load_benchmark(suite):
            if inst.n > 201:
                continue
            result = ncosolve.solve(inst, "attention", time_limit=60)
            best = ncosolve.best_known(inst)
            rows.append({"suite": suite, "instance": inst.name, "n": inst.n, "cost": result.cost, "best_known": best,
                         "gap_pct": 100 * (result.cost / best - 1) if best else None,
                         "runtime_s": result.runtime_s, "checkpoint": result.info["checkpoint"]})
            print(f"{suite:11} {inst.name:14} gap {rows[-1]['gap_pct']:.2f}% t {result.runtime_s:.2f}s", flush=True)
    return rows


def _rl4co_version() -> str | None:
    """rl4co's version when installed."""
    try:
        from importlib.metadata import version

        return version("rl4co")
    except Exception:  # not installed
        return None


def main(argv=None) -> int:
    """Run every shipped checkpoint, print a table, write the JSON."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    rows = []
    only = args.rl4co or args.inference or args.solomon
    jobs = [] if only else [(path, cfg, None) for path, cfg in shipped_checkpoints()]
    for task in filter(None, "" if only else args.other_sizes.split(",")):
        problem, size = task.rstrip("0123456789"), int(task[len(task.rstrip("0123456789")):])
        path = find_checkpoint(ncosolve.generate(problem, 1, size)[0])
        jobs.append((path, load_policy(path)[0].cfg, size))
    wanted = set(filter(None, args.tasks.split(",")))
    for path, cfg, size in jobs:
        task = f"{'atsp' if cfg.variant == 'matrix' else cfg.problem}{cfg.size if size is None else size}"
        if wanted and task not in wanted:
            continue
        row = run_generated(path, cfg, args, size)
        rows.append(row)
        if args.ref_only:
            print(f"{row['task']:8} n={row['instances']} ref={row['reference']} mean {row['reference_mean_cost']:.4f}")
            continue
        polish = row.get("attention+2opt_gap_pct")
        print(f"{row['task']:8} n={row['instances']} ref={row['reference']} gap {row['attention_gap_pct']:.2f}% "
              f"({row['attention_ms_per_instance']:.1f} ms/inst)"
              + ("" if polish is None else f", +2opt {polish:.2f}%")
              + (f", target {row['target_gap_pct']}%" if row["target_gap_pct"] is not None else ""), flush=True)
    if args.ref_only:
        return 0  # the references are in --ref-cache; no results file is written
    library = run_library() if args.tsplib and not only else []
    inference = run_inference(args) if args.inference else []
    side_by_side = run_rl4co(args) if args.rl4co else []
    solomon = run_solomon(args) if args.solomon else []
    solomon_summary = solomon_table(solomon) if solomon else {}
    summary = {}
    for suite in sorted({r["suite"] for r in library}):
        gaps = [r["gap_pct"] for r in library if r["suite"] == suite and r["gap_pct"] is not None]
        summary[suite] = {"instances": len(gaps), "mean_gap_pct": float(np.mean(gaps))}
        print(f"{suite}: mean gap {summary[suite]['mean_gap_pct']:.2f}% over {len(gaps)} instances")
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "protocol": {"test_sets": "ncosolve.generate(..., seed=1234), first n", "n": args.n,
                           "reference_time_s": args.ref_time, "decoding": "greedy multi-start + x8 augmentation",
                           "torch_threads": args.threads},
              "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "load_average_at_end": list(os.getloadavg())},
              "versions": {"ncosolve": ncosolve.__version__, "torch": torch.__version__, "rl4co": _rl4co_version()},
              "wall_time_s": time.perf_counter() - started, "generated": rows, "attention_vs_rl4co": side_by_side,
              "inference": inference,
              "library_summary": summary, "library": library, "solomon_summary": solomon_summary,
              "solomon": solomon}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
