"""Train a pair-aware attention policy for TSP / CVRP / CVRPTW / ATSP with REINFORCE and the POMO shared baseline.

    python scripts/train_routing.py --problem tsp --size 50 --epochs 20 --threads 1
    python scripts/train_routing.py --resume runs/tsp50__pomo__0__<time>      # continue where it stopped

Every epoch: ``steps`` updates on fresh seeded instances, then greedy multi-start validation on a fixed
seeded set with the gap to a reference solver (computed once, kept in the run directory), then
``epoch<k>.pt`` / ``policy.pt`` (package checkpoint format) and ``train_state.pt`` (for ``--resume``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ncosolve.script_args import parse_dataclass
from ncosolve.policies.checkpoint import load_policy, save_policy
from ncosolve.policies.model import AttentionPolicy, PolicyConfig, transfer_weights
from ncosolve.policies.reinforce import PROBLEMS, make_instances, reference_costs, reinforce_step, validate


@dataclass
class Args:
    problem: str = "tsp"
    """tsp, cvrp, cvrptw or atsp (asymmetric matrix TSP)"""
    size: int = 50
    """nodes (TSP) or customers (CVRP, CVRPTW)"""
    distribution: str = "uniform"
    """instance distribution of ncosolve.generate: uniform, clustered, mixed; or all (a third of each)"""
    epochs: int = 10
    """number of epochs"""
    steps: int = 100
    """updates per epoch"""
    batch_size: int = 64
    """instances per update (each decoded from every start node)"""
    lr: float = 1e-4
    """Adam learning rate"""
    embed_dim: int = 64
    """embedding width"""
    heads: int = 4
    """attention heads"""
    layers: int = 3
    """encoder layers"""
    ff_dim: int = 256
    """feed-forward width"""
    seed: int = 0
    """seeds python, numpy, torch and the training instances"""
    device: str = "cpu"
    """torch device"""
    threads: int = 1
    """torch.set_num_threads (keep 1 on shared machines)"""
    val_size: int = 64
    """validation instances (fixed, seed val_seed)"""
    val_seed: int = 4321
    """seed of the validation set (not the seed-1234 test sets)"""
    reference: str = ""
    """reference solver for validation gaps; default lkh (tsp/atsp) or pyvrp (cvrp, cvrptw)"""
    reference_time: float = 0.5
    """seconds per validation instance for the reference solver"""
    run_dir: str = ""
    """output directory; default runs/{problem}{size}__pomo__{seed}__{time}"""
    resume: str = ""
    """a run directory to continue (its args.json wins over the command line, except --epochs, --threads and
    --device when given)"""
    init: str = ""
    """a policy checkpoint to start from (fine-tuning, e.g. tsp50.pt for tsp100); its architecture wins"""
    devices: int = 0
    """0: the single-process loop; N: train through Lightning on N devices (see --strategy)"""
    strategy: str = "auto"
    """Lightning strategy with --devices, e.g. ddp (one process per device; gloo on CPU)"""
    accelerator: str = "cpu"
    """Lightning accelerator with --devices: cpu, gpu, auto"""
    num_nodes: int = 1
    """machines in a multi-node Lightning run (launched on each, e.g. by SLURM or torchrun)"""


def parse_args(argv=None) -> Args:
    """Args from the command line, one flag per dataclass field (``--help`` shows the field docs)."""
    return parse_dataclass(Args, __doc__.splitlines()[0], argv)


def rng_state() -> dict:
    """Python, numpy and torch RNG states as plain data (loadable with weights_only=True)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"python": random.getstate(), "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss,
                                                   gauss], "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    """Inverse of ``rng_state``."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])


RESUME_OVERRIDES = ("epochs", "threads", "device")  # how long and where: a resumed run may change them


def main(argv=None) -> Path:
    args = parse_args(argv)
    resume = args.resume
    given = sys.argv[1:] if argv is None else argv
    overrides = {name: getattr(args, name) for name in RESUME_OVERRIDES
                 if any(a == f"--{name}" or a.startswith(f"--{name}=") for a in given)}
    if args.devices and not resume and not args.run_dir:  # Lightning's DDP ranks re-run this script: one run dir
        args.run_dir = os.environ.setdefault("NCOSOLVE_RUN_DIR", str(
            Path("runs") / f"{args.problem}{args.size}__pomo__{args.seed}__{int(time.time())}"))
    if resume:
        run_dir = Path(resume)
        args = dataclasses.replace(Args(**json.loads((run_dir / "args.json").read_text())), **overrides)
    else:
        if args.problem not in PROBLEMS:
            raise SystemExit(f"--problem must be one of {PROBLEMS}")
        name = f"{args.problem}{args.size}__pomo__{args.seed}__{int(time.time())}"
        run_dir = Path(args.run_dir or Path("runs") / name)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "args.json").write_text(json.dumps(dataclasses.asdict(args), indent=1))
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    cfg = PolicyConfig(problem="tsp" if args.problem == "atsp" else args.problem,
                       variant="matrix" if args.problem == "atsp" else "euclidean", size=args.size,
                       embed_dim=args.embed_dim, heads=args.heads, layers=args.layers, ff_dim=args.ff_dim)
    init_training: dict = {}
    if args.init:
        start, meta = load_policy(args.init, None if cfg.problem == "cvrptw" else cfg.problem)
        if start.cfg.variant != cfg.variant:
            raise SystemExit(f"--init {args.init} is a {start.cfg.variant} policy, this run trains {cfg.variant}")
        if start.cfg.problem not in (cfg.problem, "cvrp"):
            raise SystemExit(f"--init {args.init} solves {start.cfg.problem}: a {cfg.problem} run starts from "
                             f"a {cfg.problem} policy (or, for cvrptw, a cvrp one)")
        cfg = dataclasses.replace(start.cfg, problem=cfg.problem, size=args.size)
        init_training = {"init": Path(args.init).name, "init_training": meta.get("training", {})}
    policy = AttentionPolicy(cfg).to(args.device)
    if args.init and not resume:
        transfer_weights(policy, start)  # a plain copy unless a cvrptw run starts from a cvrp policy
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    start_epoch, samples, wall = 0, 0, 0.0
    if resume:
        state = torch.load(run_dir / "train_state.pt", map_location=args.device, weights_only=True)
        policy.load_state_dict(state["policy"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, samples, wall = state["epoch"], state["samples"], state["wall_s"]
        set_rng_state(state["rng"])
        if start_epoch >= args.epochs:
            raise SystemExit(f"{run_dir} has already trained {start_epoch} of {args.epochs} epochs: "
                             f"pass --epochs N with N > {start_epoch} to train on")

    # The validation set and its reference costs are fixed for the whole run (and kept across resumes).
    val = make_instances(args.problem, args.val_size, args.size, args.val_seed, args.distribution)
    ref_path = run_dir / "reference.json"
    if ref_path.exists():
        reference = np.array(json.loads(ref_path.read_text())["costs"])
    else:
        method = args.reference or ("lkh" if args.problem in ("tsp", "atsp") else "pyvrp")
        reference = reference_costs(val, method, args.reference_time)
        ref_path.write_text(json.dumps({"method": method, "time_limit": args.reference_time,
                                        "costs": reference.tolist()}))

    if args.devices:  # Lightning (e.g. DDP across processes or machines); the loop below is the single-process path
        return train_lightning(args, policy, val, reference, run_dir, init_training)

    log = open(run_dir / "log.jsonl", "a")
    for epoch in range(start_epoch, args.epochs):
        started = time.time()
        bar = tqdm(range(args.steps), desc=f"epoch {epoch + 1}/{args.epochs}", dynamic_ncols=True)
        for step in bar:
            data_seed = int(np.random.SeedSequence([args.seed, epoch, step]).generate_state(1)[0])
            batch = make_instances(args.problem, args.batch_size, args.size, data_seed, args.distribution)
            stats = reinforce_step(policy, optimizer, batch)
            samples += args.batch_size
            bar.set_postfix(length=f"{stats['length']:.4f}", best=f"{stats['best']:.4f}")
        wall += time.time() - started
        metrics = validate(policy, val, reference)
        record = {"epoch": epoch + 1, "samples": samples, "wall_s": round(wall, 1), **metrics}
        tqdm.write(json.dumps(record))
        log.write(json.dumps(record) + "\n")
        log.flush()
        training = {"samples": samples, "epochs": epoch + 1, "batch_size": args.batch_size, "lr": args.lr,
                    "wall_s": round(wall, 1), "distribution": args.distribution, "val_gap_pct": metrics["gap_pct"],
                    "val_reference": json.loads(ref_path.read_text())["method"],
                    "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                                f"{args.threads} torch thread(s), device {args.device}",
                    "torch": torch.__version__, **init_training}
        save_policy(policy, run_dir / f"epoch{epoch + 1}.pt", training)
        save_policy(policy, run_dir / "policy.pt", training)
        torch.save({"policy": policy.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                    "samples": samples, "wall_s": wall, "rng": rng_state()}, run_dir / "train_state.pt.tmp")
        (run_dir / "train_state.pt.tmp").replace(run_dir / "train_state.pt")
    log.close()
    return run_dir


def train_lightning(args: Args, policy: AttentionPolicy, val, reference, run_dir: Path, init_training: dict) -> Path:
    """Train with ``ReinforceModule`` under Lightning's ``--strategy`` on ``--devices``; rank 0 validates and
    writes ``log.jsonl``, ``epoch<k>.pt`` and ``policy.pt`` every epoch (no ``train_state.pt``: no --resume)."""
    from ncosolve.policies.lightning_module import ReinforceModule, fit

    if args.resume:
        raise SystemExit("--resume is not supported with --devices (Lightning runs); start a new run with --init")
    started = time.time()
    ref_method = json.loads((run_dir / "reference.json").read_text())["method"]

    def end_of_epoch(module, epoch: int, samples: int) -> None:
        metrics = validate(module.policy, val, reference)
        wall = round(time.time() - started, 1)
        record = {"epoch": epoch, "samples": samples, "wall_s": wall, **metrics}
        print(json.dumps(record), flush=True)
        with open(run_dir / "log.jsonl", "a") as log:
            log.write(json.dumps(record) + "\n")
        training = {"samples": samples, "epochs": epoch, "batch_size": args.batch_size, "lr": args.lr,
                    "wall_s": wall, "distribution": args.distribution, "val_gap_pct": metrics["gap_pct"],
                    "val_reference": ref_method, "hardware": f"{platform.processor() or platform.machine()}, "
                    f"{os.cpu_count()} cores, {args.threads} torch thread(s), {args.accelerator} x{args.devices} "
                    f"x{args.num_nodes} node(s), strategy {args.strategy}", "torch": torch.__version__,
                    **init_training}
        save_policy(module.policy, run_dir / f"epoch{epoch}.pt", training)
        save_policy(module.policy, run_dir / "policy.pt", training)

    module = ReinforceModule(policy, args.problem, args.size, args.distribution, args.steps, args.batch_size,
                             args.lr, args.seed, end_of_epoch)
    fit(module, args.epochs, args.devices, args.strategy, args.accelerator, args.num_nodes)
    return run_dir


if __name__ == "__main__":
    main()
