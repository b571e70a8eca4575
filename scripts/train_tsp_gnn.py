"""Train the edge-gated GNN heatmap of ``mcts-gnn`` (supervised on LKH-3 tours, and/or DIMES-style REINFORCE),
or its node-penalty twin for ``lkh-gnn`` (regression on LKH-3's ascent penalties).

    python scripts/train_tsp_gnn.py --steps 3000 --threads 1
    python scripts/train_tsp_gnn.py --resume /work/runs/tsp_gnn/<run>     # continue where it stopped
    python scripts/train_tsp_gnn.py --objective reinforce --init <run>/best.pt --steps 300 ...
    python scripts/train_tsp_gnn.py ... --out ncosolve/data/checkpoints/tsp_gnn/tsp_gnn.pt
    python scripts/train_tsp_gnn.py --objective penalties --distributions uniform,clustered ...

1. Data: ``per_size`` uniform instances of every size in ``sizes`` (seeded), each solved by LKH-3
   (``ncosolve.solve(method="lkh", runs=1)``, ``lkh_time`` s at most), cached in ``data_dir`` (reused
   by later runs, filled up where a run stopped); a validation set of ``val_size`` instances of
   ``val_n`` cities from another seed.
2. Training: ``steps`` Adam updates, each on ``batch_size`` instances of one size drawn at random,
   coordinates randomly rotated by a multiple of 90 degrees and mirrored. ``--objective supervised``:
   loss = cross-entropy of each city's row softmax over its k nearest against its two tour edges
   (``supervised_loss``). ``--objective reinforce``: ``samples`` tours per instance are sampled from the
   heatmap (``sample_tours``) and the loss is REINFORCE with their mean length as baseline (DIMES);
   the LKH tours are then used for validation only. ``--objective penalties``: the model has one output per
   city (``GNNConfig.output = "penalties"``) and learns the node penalties pi that LKH-3's full subgradient
   ascent (ALPHA, one trial) writes to its PI_FILE, in units of the mean nearest-neighbour length; pi is only
   defined up to a constant (adding c to every pi adds 2nc to every tour), so the loss is the mean squared
   error after centring both per instance (``penalty_loss``). ``--objective bound``: the same model maximises
   the Held-Karp bound of its penalties directly (``bound_loss``: the ascent's subgradient, 2 minus each
   city's degree in the minimum 1-tree, as gradient), with LKH's penalties for validation only.
   ``--init`` starts from a checkpoint's weights.
3. Every ``eval_every`` steps: validation loss, recall of the tour edges among each city's 5 hottest
   candidates (the search's default candidate count), next to the softdist heatmap's, and the mean gap
   of tours sampled from the heatmap to the LKH tours (penalties: validation loss, its root over the
   targets' spread, and the Held-Karp 1-tree bound of the predicted penalties as a share of that of LKH's,
   ``one_tree_bound``); ``train_state.pt`` (model, Adam, RNG, log) for
   ``--resume`` and ``best.pt`` (package format; lowest validation loss, or sampled-tour gap for
   reinforce; highest bound share for bound). ``--out`` receives ``best.pt`` at the end, and its meta
   (config and training budget) as JSON beside it (``tsp_gnn.pt``: ``tsp_gnn.json``).
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
from scipy.sparse.csgraph import minimum_spanning_tree
from tqdm import tqdm

from ncosolve.script_args import parse_dataclass
import ncosolve
from ncosolve.policies.tsp_gnn import (
    GNNConfig, TSPGNN, graph_features, length_scale, load_gnn, reinforce_loss, sample_tours, save_gnn,
    supervised_loss, tour_edge_targets,
)
from ncosolve.baselines.lkh import ascent_penalties
from ncosolve.generators import DISTRIBUTIONS
from ncosolve.search.candidates import nearest_neighbours
from ncosolve.search.heatmaps import softdist

CANDIDATES = 5  # the search's default candidate count: recall is measured among the 5 hottest
OBJECTIVES = ("supervised", "reinforce", "penalties", "bound")
PENALTY_OBJECTIVES = ("penalties", "bound")  # a per-city output, learned from LKH's ascent penalties


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
    distributions: str = "uniform"
    """comma-separated city distributions of the training and validation instances (uniform, clustered, mixed)"""
    objective: str = "supervised"
    """supervised (cross-entropy on LKH tours), reinforce (REINFORCE on tours sampled from the heatmap) or
    penalties (regression on LKH's ascent penalties) or bound (the penalties' 1-tree bound, maximised)"""
    samples: int = 16
    """tours sampled per instance (reinforce, and the validation sampled-tour gap)"""
    init: str = ""
    """a checkpoint to start from (e.g. a supervised best.pt before reinforce, or the shipped heatmap before
    penalties); its architecture wins"""
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
    if args.objective not in OBJECTIVES:  # checked before the LKH tours, which can take minutes
        raise SystemExit(f"--objective must be one of {', '.join(OBJECTIVES)}, got {args.objective!r}")
    if not set(args.distributions.split(",")) <= set(DISTRIBUTIONS):
        raise SystemExit(f"--distributions must be a comma-separated subset of {', '.join(DISTRIBUTIONS)}, "
                         f"got {args.distributions!r}")
    return args


def solved_instances(n: int, count: int, seed: int, lkh_time: float, cache: Path, distribution: str = "uniform",
                     objective: str = "supervised") -> tuple[np.ndarray, np.ndarray]:
    """``count`` seeded n-city instances and their labels: coords (count, n, 2), and LKH tours (count, n), or for
    ``objective`` "penalties" LKH's ascent penalties (count, n) in units of the mean nearest-neighbour length.

    Cached in ``cache/{tag}n{n}_seed{seed}.npz`` (tag "pi_" for penalties, then the distribution unless
    uniform), saved after every instance so an interrupted run resumes.
    """
    penalties = objective in PENALTY_OBJECTIVES
    tag = ("pi_" if penalties else "") + ("" if distribution == "uniform" else f"{distribution}_")
    path = cache / f"{tag}n{n}_seed{seed}.npz"
    instances = ncosolve.generate("tsp", count, n, seed=seed, distribution=distribution)
    coords = np.stack([inst.coords for inst in instances])
    key = "pi" if penalties else "tours"
    labels = np.zeros((0, n), dtype=np.float64 if penalties else np.int64)
    if path.exists():
        with np.load(path) as data:
            if np.array_equal(data["coords"], coords[:len(data[key])]):
                labels = data[key][:count]
    what = "LKH ascent penalties" if penalties else "LKH tours"
    for inst in tqdm(instances[len(labels):], desc=f"{what} n={n} {distribution}", initial=len(labels), total=count):
        if penalties:
            pi = ascent_penalties(inst, lkh_time)
            if pi is None:
                raise SystemExit(f"LKH wrote no penalties for a {n}-city instance in {lkh_time} s; raise --lkh-time")
            label = pi / length_scale(nearest_neighbours(inst, 1)[1])
        else:
            result = ncosolve.solve(inst, method="lkh", time_limit=lkh_time, runs=1)
            if result.solution is None:
                raise SystemExit(f"LKH gave no tour for a {n}-city instance in {lkh_time} s ({result.info}); "
                                 "raise --lkh-time")
            label = np.asarray(result.solution, dtype=np.int64)
        labels = np.concatenate([labels, label[None]])
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, coords=coords[:len(labels)], **{key: labels})
        tmp.replace(path)
    return coords, labels


def penalty_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error between (B, n) penalties after centring each instance's (pi is defined up to a constant)."""
    pred = pred - pred.mean(-1, keepdim=True)
    target = target - target.mean(-1, keepdim=True)
    return ((pred - target) ** 2).mean()


def graphs(coords: np.ndarray, labels: np.ndarray, k: int, objective: str = "supervised") -> dict:
    """Features, neighbour lists and targets of a stack of same-size instances, as tensors: tour-edge targets
    from tours, or (penalties) the penalties themselves."""
    node, edge, nbrs, targets, lengths = [], [], [], [], []
    for xy, label in zip(coords, labels):
        nbr, nbr_len = nearest_neighbours(ncosolve.TSPInstance(coords=xy), k)
        nf, ef = graph_features(xy, nbr, nbr_len)
        node.append(nf), edge.append(ef), nbrs.append(nbr), lengths.append(nbr_len)
        targets.append(label.astype(np.float32) if objective in PENALTY_OBJECTIVES
                       else tour_edge_targets(label, nbr))
    return {"node": torch.from_numpy(np.stack(node)), "edge": torch.from_numpy(np.stack(edge)),
            "nbr": torch.from_numpy(np.stack(nbrs)), "target": torch.from_numpy(np.stack(targets)),
            "nbr_len": np.stack(lengths), "coords": coords, "labels": torch.from_numpy(labels)}


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


def one_tree(coords: np.ndarray, pi: np.ndarray) -> tuple[float, np.ndarray]:
    """(length, degrees) of the minimum 1-tree on the costs d_ij + pi_i + pi_j: a spanning tree of cities
    1..n-1 and city 0's two cheapest edges."""
    cost = ncosolve.TSPInstance(coords=coords).distance_matrix() + pi[:, None] + pi[None]
    rest = cost[1:, 1:]
    shift = rest.min() - 1.0  # positive weights (0 reads as no edge); every tree has n - 2 edges, so undone below
    weights = rest - shift
    np.fill_diagonal(weights, 0.0)
    tree = minimum_spanning_tree(weights).tocoo()
    degree = np.zeros(len(pi))
    np.add.at(degree, tree.row + 1, 1)
    np.add.at(degree, tree.col + 1, 1)
    two = np.argsort(cost[0, 1:])[:2] + 1
    degree[0] = 2
    degree[two] += 1
    return float((tree.data + shift).sum() + cost[0, two].sum()), degree


def one_tree_bound(coords: np.ndarray, pi: np.ndarray) -> float:
    """Held and Karp's lower bound on the tour length under penalties pi: the minimum 1-tree's length on the
    costs d_ij + pi_i + pi_j, minus 2 sum(pi)."""
    return one_tree(coords, pi)[0] - 2 * float(pi.sum())


def bound_loss(pred: torch.Tensor, coords: np.ndarray, nbr_len: np.ndarray) -> torch.Tensor:
    """Minus the Held-Karp bound of (B, n) predicted penalties, per city and in nearest-neighbour units, as a
    loss whose gradient in pi_i is 2 - degree_i of the minimum 1-tree (the ascent's subgradient)."""
    losses = []
    for p, xy, nl in zip(pred, coords, nbr_len):
        _, degree = one_tree(xy, p.detach().double().numpy() * length_scale(nl))
        losses.append(-(p * torch.from_numpy(degree - 2.0).to(p.dtype)).mean())
    return torch.stack(losses).mean()


def validate_penalties(model: TSPGNN, val: list[dict]) -> dict:
    """Validation loss; its root over the targets' spread (1: no better than a constant); and the mean 1-tree
    bound of the predicted penalties as a share of the LKH penalties' bound, with zero penalties' share beside."""
    model.eval()
    with torch.no_grad():
        pairs = [(model(v["node"], v["edge"], v["nbr"]), v["target"]) for v in val]
    model.train()
    loss = float(np.mean([penalty_loss(p, t) for p, t in pairs]))
    spread = float(np.mean([penalty_loss(torch.zeros_like(t), t) for _, t in pairs]))
    shares, zero = [], []
    for v, (pred, _) in zip(val, pairs):
        if "bounds" not in v:  # the bounds of LKH's and of zero penalties never change: kept in the batch
            v["bounds"] = [(one_tree_bound(xy, t * length_scale(nl)), one_tree_bound(xy, np.zeros_like(t)))
                           for xy, t, nl in zip(v["coords"], v["labels"].numpy(), v["nbr_len"])]
        for xy, p, nl, (lkh, zero_pi) in zip(v["coords"], pred.double().numpy(), v["nbr_len"], v["bounds"]):
            shares.append(one_tree_bound(xy, p * length_scale(nl)) / lkh)
            zero.append(zero_pi / lkh)
    return {"val_loss": loss, "val_relative_rmse": (loss / spread) ** 0.5, "val_bound_share": float(np.mean(shares)),
            "zero_bound_share": float(np.mean(zero))}


def validate(model: TSPGNN, val: dict, samples: int) -> dict:
    """Validation loss, candidate recall (and softdist's, tau 0.3, for scale), sampled-tour gap to LKH."""
    model.eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        logits = model(val["node"], val["edge"], val["nbr"])
        coords = torch.from_numpy(val["coords"]).float()
        lkh = [(xy[tour] - xy[tour].roll(-1, dims=0)).norm(dim=1).sum() for xy, tour in zip(coords, val["labels"])]
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
    distributions = args.distributions.split(",")

    def data(n: int, count: int, seed: int, distribution: str) -> dict:
        labelled = solved_instances(n, count, seed, args.lkh_time, cache, distribution, args.objective)
        return graphs(*labelled, args.neighbours, args.objective)

    train = {(n, dist): data(n, args.per_size, args.data_seed + n, dist)
             for n in map(int, args.sizes.split(",")) for dist in distributions}
    val = [data(args.val_n, args.val_size, args.val_seed, dist) for dist in distributions]
    data_seconds = time.perf_counter() - data_start

    output = "penalties" if args.objective in PENALTY_OBJECTIVES else "edges"
    if args.init:  # its architecture and weights; a heatmap's trunk and head also start a penalty model
        start = load_gnn(args.init)[0]
        model = TSPGNN(dataclasses.replace(start.cfg, output=output))
        model.load_state_dict(start.state_dict())
    else:
        model = TSPGNN(GNNConfig(hidden=args.hidden, layers=args.layers, neighbours=args.neighbours, output=output))
    model.train()
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

    def checks(model: TSPGNN, val: list[dict]) -> dict:
        if output == "penalties":
            return validate_penalties(model, val)
        parts = [validate(model, v, args.samples) for v in val]  # one per distribution
        return {key: float(np.mean([p[key] for p in parts])) for key in parts[0]}
    bar = tqdm(total=args.steps, initial=step, desc="train")
    while step < args.steps:
        t0 = time.perf_counter()
        n, dist = sizes[int(torch.randint(len(sizes), (1,), generator=gen))]
        pick = torch.randperm(args.per_size, generator=gen)[:args.batch_size]
        batch = train[n, dist]
        edge = augment(batch["edge"][pick], gen)
        if args.objective == "reinforce":
            loss = reinforce_step_loss(model, batch, pick, edge, args.samples, gen)
        elif args.objective == "bound":
            out = model(batch["node"][pick], edge, batch["nbr"][pick])
            loss = bound_loss(out, batch["coords"][pick.numpy()], batch["nbr_len"][pick.numpy()])
        else:
            out = model(batch["node"][pick], edge, batch["nbr"][pick])
            loss = (supervised_loss if args.objective == "supervised" else penalty_loss)(out, batch["target"][pick])
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
                     **{key: round(v, 5) for key, v in checks(model, val).items()}}
            log.append(entry)
            tqdm.write(json.dumps(entry))
            method = {"supervised": "supervised cross-entropy on LKH-3 tours (runs=1)",
                      "reinforce": f"REINFORCE on {args.samples} heatmap-sampled tours per instance, mean-length "
                                   "baseline",
                      "penalties": "regression (centred MSE) on LKH-3's ALPHA-ascent node penalties",
                      "bound": "Held-Karp 1-tree bound maximised (the ascent's subgradient as gradient)",
                      }[args.objective]
            training = {"method": method, "init": args.init, "steps": step,
                        "batch_size": args.batch_size, "lr": args.lr, "sizes": args.sizes,
                        "distributions": args.distributions,
                        "instances": args.per_size * len(sizes), "lkh_time_s": args.lkh_time,
                        "data_seconds": round(data_seconds, 1), "train_seconds": round(train_seconds, 1),
                        "threads": args.threads, "hardware": f"{platform.machine()}, {os.cpu_count()} cores, cpu",
                        "torch": torch.__version__, "validation": entry}
            if args.objective == "reinforce":
                score = entry["val_sampled_gap"]
            elif args.objective == "bound":
                score = -entry["val_bound_share"]
            else:
                score = entry["val_loss"]
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
        Path(args.out).with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
        print(f"wrote {args.out}")
    return run_dir


if __name__ == "__main__":
    main()
