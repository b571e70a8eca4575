"""Train the edge-gated GNN heatmap of ``mcts-gnn``: supervised on LKH-3 tours, and/or DIMES-style REINFORCE.

    python scripts/train_tsp_gnn.py --steps 3000 --threads 1
    python scripts/train_tsp_gnn.py --resume /work/runs/tsp_gnn/<run>     # continue where it stopped
    python scripts/train_tsp_gnn.py --objective reinforce --init <run>/best.pt --steps 300 ...
    python scripts/train_tsp_gnn.py ... --out ncosolve/data/checkpoints/tsp_gnn/tsp_gnn.pt

1. Data: ``per_size`` uniform instances of every size in ``sizes`` (seeded), each solved by LKH-3
   (``ncosolve.solve(method="lkh", runs=1)``, ``lkh_time`` s at most), cached in ``data_dir`` (reused
   by later runs, filled up where a run stopped); a validation set of ``val_size`` instances of
   ``val_n`` cities from another seed.
2. Training: ``steps`` Adam updates, each on ``batch_size`` instances of one size drawn at random,
   coordinates randomly rotated by a multiple of 90 degrees and mirrored. ``--objective supervised``:
   loss = cross-entropy of each city's row softmax over its k nearest against its two tour edges
   (``supervised_loss``). ``--objective reinforce``: ``samples`` tours per instance are sampled from the
   heatmap (``sample_tours``) and the loss is REINFORCE with their mean length as baseline (DIMES);
   the LKH tours are then used for validation only. ``--init`` starts from a checkpoint's weights.
3. Every ``eval_every`` steps: validation loss, recall of the tour edges among each city's 5 hottest
   candidates (the search's default candidate count), next to the softdist heatmap's, and the mean gap
   of tours sampled from the heatmap to the LKH tours; ``train_state.pt`` (model, Adam, RNG, log) for
   ``--resume`` and ``best.pt`` (package format; lowest validation loss, or sampled-tour gap for
   reinforce). ``--out`` receives ``best.pt`` at the end, and ``config.json`` beside it (its
   config and training budget).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ncosolve.script_args import parse_dataclass
import ncosolve
from ncosolve.policies.tsp_gnn import (
    GNNConfig, TSPGNN, graph_features, load_gnn, reinforce_loss, sample_tours, save_gnn, supervised_loss,
    tour_edge_targets,
)
from ncosolve.search.candidates import nearest_neighbours
from ncosolve.search.heatmaps import softdist

CANDIDATES = 5  # the search's default candidate count: recall is measured among the 5 hottest


@dataclass
class Args:
    sizes: str = "100,200,300,400,500"
    """comma-separated training instance sizes (cities)"""
    per_size: int = 64
    """training instances per size"""
    lkh_time: float = 30.0
    """most LKH-3 seconds per training / validation instance (runs=1 usually ends far sooner)"""
    val_n: int = 500
    """cities per validation instance"""
    val_size: int = 8
    """validation instances (seed val_seed)"""
    data_seed: int = 1
    """seed of the training instances"""
    val_seed: int = 4321
    """seed of the validation instances"""
    data_dir: str = "/work/runs/tsp_gnn/data"
    """cache of generated instances and their LKH tours"""
    objective: str = "supervised"
    """supervised (cross-entropy on LKH tours) or reinforce (REINFORCE on tours sampled from the heatmap)"""
    samples: int = 16
    """tours sampled per instance (reinforce, and the validation sampled-tour gap)"""
    init: str = ""
    """a checkpoint to start from (e.g. a supervised best.pt before reinforce); its architecture wins"""
    steps: int = 2000
    """Adam updates"""
    batch_size: int = 4
    """instances per update (all of one size)"""
    lr: float = 1e-3
    """Adam learning rate (cosine decay to lr / 10)"""
    hidden: int = 48
    """embedding width"""
    layers: int = 8
    """gated message-passing layers"""
    neighbours: int = 10
    """k of the k-NN graph (the search's default neighbour count)"""
    eval_every: int = 100
    """steps between validations and checkpoints"""
    seed: int = 0
    """seeds python, numpy and torch (batch order, augmentation, initial weights)"""
    threads: int = 1
    """torch.set_num_threads (keep 1 on shared machines)"""
    run_dir: str = ""
    """output directory; default /work/runs/tsp_gnn/tsp_gnn__supervised__{seed}__{time}"""
    resume: str = ""
    """a run directory to continue (its args.json wins over the command line, except steps and out)"""
    out: str = ""
    """where to copy the best checkpoint at the end (e.g. ncosolve/data/checkpoints/tsp_gnn/tsp_gnn.pt)"""


def parse_args(argv=None) -> Args:
    """Args from the command line, one flag per dataclass field (``--help`` shows the field docs)."""
    args = parse_dataclass(Args, __doc__.splitlines()[0], argv)
    if not all(part.strip().isdigit() and int(part) >= 3 for part in args.sizes.split(",")):
        raise SystemExit(f"--sizes must be comma-separated city counts of at least 3, got {args.sizes!r}")
    if args.objective not in ("supervised", "reinforce"):  # checked before the LKH tours, which can take minutes
        raise SystemExit(f"--objective must be supervised or reinforce, got {args.objective!r}")
    return args


def solved_instances(n: int, count: int, seed: int, lkh_time: float, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """``count`` seeded uniform n-city instances and LKH tours: coords (count, n, 2), tours (count, n).

    Cached in ``cache/n{n}_seed{seed}.npz``, saved after every instance so an interrupted run resumes.
    """
    path = cache / f"n{n}_seed{seed}.npz"
    instances = ncosolve.generate("tsp", count, n, seed=seed)
    coords = np.stack([inst.coords for inst in instances])
    tours = np.zeros((0, n), dtype=np.int64)
    if path.exists():
        with np.load(path) as data:
            if np.array_equal(data["coords"], coords[:len(data["tours"])]):
                tours = data["tours"][:count]
    for inst in tqdm(instances[len(tours):], desc=f"LKH tours n={n}", initial=len(tours), total=count):
        result = ncosolve.solve(inst, method="lkh", time_limit=lkh_time, runs=1)
        if result.solution is None:
            raise SystemExit(f"LKH gave no tour for a {n}-city instance in {lkh_time} s ({result.info}); "
                             "raise --lkh-time")
        tours = np.concatenate([tours, np.asarray(result.solution, dtype=np.int64)[None]])
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, coords=coords[:len(tours)], tours=tours)
        tmp.replace(path)
    return coords, tours


def graphs(coords: np.ndarray, tours: np.ndarray, k: int) -> dict:
    """Features, neighbour lists and tour-edge targets of a stack of same-size instances, as tensors."""
    node, edge, nbrs, targets, lengths = [], [], [], [], []
    for xy, tour in zip(coords, tours):
        nbr, nbr_len = nearest_neighbours(ncosolve.TSPInstance(coords=xy), k)
        nf, ef = graph_features(xy, nbr, nbr_len)
        node.append(nf), edge.append(ef), nbrs.append(nbr), lengths.append(nbr_len)
        targets.append(tour_edge_targets(tour, nbr))
    return {"node": torch.from_numpy(np.stack(node)), "edge": torch.from_numpy(np.stack(edge)),
            "nbr": torch.from_numpy(np.stack(nbrs)), "target": torch.from_numpy(np.stack(targets)),
            "nbr_len": np.stack(lengths), "coords": coords, "tours": torch.from_numpy(tours)}


def augment(edge: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Edge features with the (dx, dy) offsets rotated by a random multiple of 90 degrees and maybe mirrored."""
    edge = edge.clone()
    dx, dy = edge[..., 1].clone(), edge[..., 2].clone()
    turns, mirror = int(torch.randint(4, (1,), generator=gen)), bool(torch.randint(2, (1,), generator=gen))
    for _ in range(turns):
        dx, dy = -dy, dx
    if mirror:
        dx = -dx
    edge[..., 1], edge[..., 2] = dx, dy
    return edge


def recall(heat: np.ndarray, target: np.ndarray) -> float:
    """Fraction of tour edges in the k-NN lists that are among their city's CANDIDATES hottest."""
    top = np.argsort(-heat, axis=-1, kind="stable")[..., :CANDIDATES]
    return float(np.take_along_axis(target, top, axis=-1).sum() / target.sum())


def reinforce_step_loss(model: TSPGNN, data: dict, pick: torch.Tensor, edge: torch.Tensor, samples: int,
                        gen: torch.Generator) -> torch.Tensor:
    """Mean REINFORCE loss over the picked instances, ``samples`` heatmap-sampled tours each."""
    logits = model(data["node"][pick], edge, data["nbr"][pick])
    coords = torch.from_numpy(data["coords"][pick.numpy()]).float()
    losses = [reinforce_loss(*sample_tours(lg, nb, xy, samples, gen)[1:])
              for lg, nb, xy in zip(logits, data["nbr"][pick], coords)]
    return torch.stack(losses).mean()


def validate(model: TSPGNN, val: dict, samples: int) -> dict:
    """Validation loss, candidate recall (and softdist's, tau 0.3, for scale), sampled-tour gap to LKH."""
    model.eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        logits = model(val["node"], val["edge"], val["nbr"])
        coords = torch.from_numpy(val["coords"]).float()
        lkh = [(xy[tour] - xy[tour].roll(-1, dims=0)).norm(dim=1).sum() for xy, tour in zip(coords, val["tours"])]
        sampled = [sample_tours(lg, nb, xy, samples, gen)[2].mean() for lg, nb, xy in zip(logits, val["nbr"], coords)]
    model.train()
    target = val["target"].numpy()
    soft = np.stack([softdist(nl, 0.3) for nl in val["nbr_len"]])
    soft_loss = supervised_loss(torch.log(torch.from_numpy(soft)), val["target"].double())
    return {"val_loss": float(supervised_loss(logits, val["target"])), "val_recall": recall(logits.numpy(), target),
            "softdist_loss": float(soft_loss), "softdist_recall": recall(soft, target),
            "val_sampled_gap": float(np.mean([s / ref - 1.0 for s, ref in zip(sampled, lkh)]))}


def main(argv=None) -> Path:
    """Build the data, train, validate, checkpoint; the run directory. See the module docstring."""
    args = parse_args(argv)
    if args.resume:
        run_dir = Path(args.resume)
        saved = json.loads((run_dir / "args.json").read_text())
        args = Args(**{**saved, "steps": args.steps, "out": args.out, "resume": args.resume})
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = Path(args.run_dir or f"/work/runs/tsp_gnn/tsp_gnn__supervised__{args.seed}__{stamp}")
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "args.json").write_text(json.dumps(dataclasses.asdict(args), indent=1))
    torch.set_num_threads(args.threads)
    random.seed(args.seed), np.random.seed(args.seed), torch.manual_seed(args.seed)

    cache = Path(args.data_dir)
    cache.mkdir(parents=True, exist_ok=True)
    data_start = time.perf_counter()
    train = {n: graphs(*solved_instances(n, args.per_size, args.data_seed + n, args.lkh_time, cache), args.neighbours)
             for n in map(int, args.sizes.split(","))}
    val = graphs(*solved_instances(args.val_n, args.val_size, args.val_seed, args.lkh_time, cache), args.neighbours)
    data_seconds = time.perf_counter() - data_start

    model = load_gnn(args.init)[0].train() if args.init else TSPGNN(
        GNNConfig(hidden=args.hidden, layers=args.layers, neighbours=args.neighbours))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps, eta_min=args.lr / 10)
    gen = torch.Generator().manual_seed(args.seed)
    step, log, train_seconds, best = 0, [], 0.0, float("inf")
    state_path = run_dir / "train_state.pt"
    if args.resume and state_path.exists():
        state = torch.load(state_path, weights_only=True)
        model.load_state_dict(state["model"]), optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"]), gen.set_state(state["generator"])
        step, log, train_seconds, best = state["step"], json.loads(state["log"]), state["train_seconds"], state["best"]

    sizes = sorted(train)
    bar = tqdm(total=args.steps, initial=step, desc="train")
    while step < args.steps:
        t0 = time.perf_counter()
        n = sizes[int(torch.randint(len(sizes), (1,), generator=gen))]
        pick = torch.randperm(args.per_size, generator=gen)[:args.batch_size]
        data = train[n]
        edge = augment(data["edge"][pick], gen)
        if args.objective == "supervised":
            loss = supervised_loss(model(data["node"][pick], edge, data["nbr"][pick]), data["target"][pick])
        else:
            loss = reinforce_step_loss(model, data, pick, edge, args.samples, gen)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        step += 1
        train_seconds += time.perf_counter() - t0
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}", n=n)
        if step % args.eval_every == 0 or step == args.steps:
            entry = {"step": step, "train_loss": round(loss.item(), 5), "train_seconds": round(train_seconds, 1),
                     **{key: round(v, 5) for key, v in validate(model, val, args.samples).items()}}
            log.append(entry)
            tqdm.write(json.dumps(entry))
            method = ("supervised cross-entropy on LKH-3 tours (runs=1)" if args.objective == "supervised" else
                      f"REINFORCE on {args.samples} heatmap-sampled tours per instance, mean-length baseline")
            training = {"method": method, "init": args.init, "steps": step,
                        "batch_size": args.batch_size, "lr": args.lr, "sizes": args.sizes,
                        "instances": args.per_size * len(sizes), "lkh_time_s": args.lkh_time,
                        "data_seconds": round(data_seconds, 1), "train_seconds": round(train_seconds, 1),
                        "threads": args.threads, "hardware": f"{platform.machine()}, {os.cpu_count()} cores, cpu",
                        "torch": torch.__version__, "validation": entry}
            score = entry["val_loss"] if args.objective == "supervised" else entry["val_sampled_gap"]
            if score < best:
                best = score
                save_gnn(model, run_dir / "best.pt", training)
            tmp = state_path.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(), "generator": gen.get_state(), "step": step,
                        "log": json.dumps(log), "train_seconds": train_seconds, "best": best}, tmp)
            tmp.replace(state_path)
    bar.close()
    (run_dir / "log.json").write_text(json.dumps(log, indent=1))
    if args.out:
        _, meta = load_gnn(run_dir / "best.pt")  # refuse to ship a file that does not load
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / "best.pt", args.out)
        (Path(args.out).parent / "config.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(f"wrote {args.out}")
    return run_dir


if __name__ == "__main__":
    main()
