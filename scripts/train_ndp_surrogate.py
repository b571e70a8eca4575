"""Train the GNN surrogate of user-equilibrium link flows used by ``ndp-surrogate-ga``.

    python scripts/train_ndp_surrogate.py --source synthetic --out ncosolve/data/checkpoints/ndp/surrogate_synthetic.pt
    python scripts/train_ndp_surrogate.py --source ../shared/data --out /work/runs/ndp/surrogate_siouxfalls.pt
    python scripts/train_ndp_surrogate.py --resume runs/ndp_surrogate__synthetic__0__<time>   # continue

1. Data: ``groups`` times, pick a training instance, draw a demand from N(d, 0.2d), draw
   ``designs_per_group`` random designs and solve their user equilibria (and the two reference designs) in
   one ``equilibrium_batch`` call. Instances: ``synthetic`` = a pool of ``instances`` seeded random congested
   cities (``random_design_instance``: DNDP, NDP-LA, NDP-LS); a data directory = SiouxFalls, its 16 DNDP
   files and NDP-LA on every link (TransportationNetworks data: academic use only, so keep that checkpoint
   out of the package). Groups are saved as they come (``data.pt``), so a resumed run keeps them.
2. Training: Adam on the mean squared error of flow / capacity plus ``ttt_weight`` x the squared relative
   error of the TTT those flows give (BPR of ``ncosolve.problems.network``), one group per step; each epoch
   is validated on the last ``val_groups`` groups (Spearman rank correlation of predicted and true TTT within
   a group, and mean relative TTT error) and the best epoch is written to ``out``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from tqdm import tqdm

from ncosolve.problems.network_generators import lane_addition_instance, random_design_instance
from ncosolve.policies.ndp_gnn import GNNConfig, Graph, node_features, save_model
from ncosolve.policies.ndp_surrogate import LINK_FEATURES, FlowSurrogate, link_inputs, training_group
from ncosolve.problems.network import bpr_times
from ncosolve.script_args import parse_dataclass


@dataclass
class Args:
    source: str = "synthetic"
    """"synthetic", or a data directory holding tntp/SiouxFalls_* and dndp/SF_DNDP_*"""
    instances: int = 48
    """synthetic: size of the pool of random instances"""
    groups: int = 600
    """data groups (one instance, one demand draw, designs_per_group designs)"""
    designs_per_group: int = 16
    """designs per group"""
    val_groups: int = 40
    """groups held out for validation (the last ones drawn)"""
    epochs: int = 30
    """passes over the training groups"""
    max_train_minutes: float = 10.0
    """stop training after this much wall time (the best epoch so far is kept)"""
    hidden: int = 48
    """embedding width"""
    layers: int = 5
    """message-passing rounds"""
    lr: float = 1e-3
    """Adam learning rate"""
    ttt_weight: float = 1.0
    """weight of the relative-TTT term of the loss"""
    seed: int = 0
    """seeds numpy (instances, demands, designs) and torch"""
    threads: int = 1
    """torch.set_num_threads (keep 1 on shared machines)"""
    run_dir: str = ""
    """output directory; default runs/ndp_surrogate__{source}__{seed}__{time}"""
    out: str = ""
    """the final checkpoint; default {run_dir}/surrogate.pt"""
    resume: str = ""
    """a run directory to continue (its args.json wins over the command line)"""


def parse_args(argv=None) -> Args:
    """Args from the command line, one flag per dataclass field (``--help`` shows the field docs)."""
    return parse_dataclass(Args, __doc__.splitlines()[0], argv)


def training_instances(args: Args) -> list:
    """The instances groups are drawn from (rebuilt identically on resume)."""
    if args.source == "synthetic":
        return [random_design_instance(args.seed * 100_003 + i) for i in range(args.instances)]
    from ncosolve.io.tntp import read_dndp, read_tntp

    data = Path(args.source)
    trips = data / "tntp" / "SiouxFalls_trips.tntp"
    dndp = [read_dndp(p, trips=trips) for p in sorted((data / "dndp").glob("SF_DNDP_*.txt"))]
    return dndp + [lane_addition_instance(read_tntp(data / "tntp" / "SiouxFalls_net.tntp"))] * len(dndp)


def tensors(instance, group: dict) -> dict:
    """A group as model inputs and targets."""
    net = instance.network
    feats, cap, is_open = link_inputs(instance, group["designs"], group["refs"])
    return {"node_x": torch.from_numpy(node_features(net, group["demand"][None])).expand(len(feats), -1, -1),
            "link_x": torch.from_numpy(feats), "graph": Graph.build(net, is_open),
            "y": torch.from_numpy(group["flows"] / net.capacity).float(), "cap": torch.from_numpy(cap),
            "ttt": torch.from_numpy(group["ttt"]),
            "bpr": [torch.tensor(a) for a in (net.free_flow_time, net.b, net.power)],
            "base_cap": torch.tensor(net.capacity)}


def predict(model, t: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(flow / capacity (G, L), TTT (G,)) predicted for a group."""
    y = model(t["node_x"], t["link_x"], t["graph"])
    flows = y.double().clamp(max=6.0) * t["base_cap"]
    return y, (flows * bpr_times(flows, t["cap"], *t["bpr"])).sum(-1)


def validate(model, val: list[dict]) -> dict:
    """Mean within-group Spearman correlation and mean relative error of predicted vs true TTT."""
    rho, err = [], []
    with torch.no_grad():
        for t in val:
            _, ttt = predict(model, t)
            rho.append(spearmanr(ttt.numpy(), t["ttt"].numpy()).statistic)
            err.append(float((ttt / t["ttt"] - 1).abs().mean()))
    return {"val_spearman": float(np.nanmean(rho)), "val_ttt_rel_err": float(np.mean(err))}


def main(argv=None) -> Path:
    args = parse_args(argv)
    if args.resume:
        run_dir = Path(args.resume)
        args = Args(**json.loads((run_dir / "args.json").read_text()))
    else:
        tag = "synthetic" if args.source == "synthetic" else Path(args.source).resolve().name
        run_dir = Path(args.run_dir or Path("runs") / f"ndp_surrogate__{tag}__{args.seed}__{int(time.time())}")
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "args.json").write_text(json.dumps(dataclasses.asdict(args), indent=1))
    out = Path(args.out or run_dir / "surrogate.pt")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    instances = training_instances(args)

    # 1. Data, saved every 25 groups; group g uses its own seed, so a resumed run draws the same groups.
    data_path = run_dir / "data.pt"  # numpy arrays stored as tensors, so weights_only loading reads them
    saved = torch.load(data_path, weights_only=True) if data_path.exists() else {"groups": [], "seconds": 0.0}
    groups, data_seconds = saved["groups"], saved["seconds"]
    for g in tqdm(range(len(groups), args.groups), desc="UE solves", initial=len(groups), total=args.groups):
        started = time.time()
        rng = np.random.default_rng([args.seed, g])
        index = int(rng.integers(len(instances)))
        group = training_group(instances[index], rng, args.designs_per_group)
        groups.append({"instance": index, **{k: torch.from_numpy(v) for k, v in group.items()}})
        data_seconds += time.time() - started
        if (g + 1) % 25 == 0 or g + 1 == args.groups:
            torch.save({"groups": groups, "seconds": data_seconds}, data_path.with_suffix(".tmp"))
            data_path.with_suffix(".tmp").replace(data_path)
    data = [tensors(instances[grp["instance"]], {k: v.numpy() for k, v in grp.items() if k != "instance"})
            for grp in groups]
    train, val = data[: -args.val_groups], data[-args.val_groups:]

    # 2. Training.
    cfg = GNNConfig(kind="surrogate", edge_features=LINK_FEATURES, hidden=args.hidden, layers=args.layers,
                    trained_on=args.source if args.source == "synthetic" else "SiouxFalls")
    model = FlowSurrogate(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    state_path = run_dir / "train_state.pt"
    epoch, wall, best = 0, 0.0, {"val_spearman": -np.inf}
    if state_path.exists():
        state = torch.load(state_path, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch, wall, best = state["epoch"], state["wall_s"], json.loads(state["best"])
    log = open(run_dir / "log.jsonl", "a")
    while epoch < args.epochs and wall < 60 * args.max_train_minutes:
        started = time.time()
        model.train()
        order = np.random.default_rng([args.seed, 1, epoch]).permutation(len(train))
        bar = tqdm(order, desc=f"epoch {epoch + 1}/{args.epochs}", dynamic_ncols=True)
        for i in bar:
            t = train[i]
            y, ttt = predict(model, t)
            flow_loss = ((y - t["y"]) ** 2 * t["graph"].open).sum() / t["graph"].open.sum()
            ttt_loss = ((ttt / t["ttt"] - 1) ** 2).mean()
            loss = flow_loss + args.ttt_weight * ttt_loss.float()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            bar.set_postfix(flow=f"{flow_loss.item():.4f}", ttt=f"{ttt_loss.item() ** 0.5:.4f}")
        wall += time.time() - started
        epoch += 1
        model.eval()
        record = {"epoch": epoch, "wall_s": round(wall, 1), **validate(model, val)}
        tqdm.write(json.dumps(record))
        log.write(json.dumps(record) + "\n")
        log.flush()
        if record["val_spearman"] > best["val_spearman"]:
            best = record
            save_model(model, cfg, out, {
                "source": cfg.trained_on, "groups": len(groups), "designs": len(groups) * args.designs_per_group,
                "data_s": round(data_seconds, 1), "epochs": epoch, "train_s": round(wall, 1), **record,
                "hardware": f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} torch thread(s)",
                "torch": torch.__version__})
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                    "wall_s": wall, "best": json.dumps(best)}, state_path.with_suffix(".tmp"))
        state_path.with_suffix(".tmp").replace(state_path)
    log.close()
    print(json.dumps({"checkpoint": str(out), **best}))
    return out


if __name__ == "__main__":
    main()
