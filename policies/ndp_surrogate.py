"""GNN surrogate of user-equilibrium link flows, and ``ndp-surrogate-ga``: a GA that searches with it.

The surrogate regresses each link's UE flow (over its base capacity) for a design, from the network graph:
node inputs are the demand each zone produces and attracts; link inputs are free-flow time, capacity, BPR b,
the design (open bit, capacity added or moved) and two reference equilibria solved once per instance and
demand: the do-nothing design and the all-candidates design. The model predicts the design's flows as a
correction of the do-nothing flows; TTT then comes from the network's own BPR times
(``Network.total_travel_time``), so the surrogate never carries a second objective.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ncosolve.baselines.ndp_exact import DesignScorer
from ncosolve.baselines.ndp_ga import evolve
from ncosolve.policies.checkpoint import CheckpointError, load_weights
from ncosolve.policies.ndp_gnn import (SHIPPED_DIR, GNNConfig, Graph, NetworkGNN, mlp, node_features,
                                       read_model, static_link_features)
from ncosolve.policies.torch_threads import torch_threads
from ncosolve.problems.network import prepare_equilibrium
from ncosolve.traffic.solver import equilibrium_batch

SHIPPED = SHIPPED_DIR / "surrogate_synthetic.pt"
LINK_FEATURES = 10  # 3 static + open, capacity / mean, capacity change + 4 reference (flow / capacity, log time ratio)
REFERENCE_TOL = 1e-4  # UE relative gap of the two reference solves (training and inference alike)
DO_NOTHING_VC = 6     # the link-feature column holding the do-nothing reference flow / capacity


class FlowSurrogate(nn.Module):
    """``NetworkGNN`` encoder + a per-link head: flow / base capacity = relu(do-nothing reference + head)."""

    def __init__(self, cfg: GNNConfig):
        super().__init__()
        self.cfg = cfg
        self.gnn = NetworkGNN(cfg)
        self.head = mlp([cfg.hidden, cfg.hidden, 1])

    def forward(self, node_x, link_x, graph: Graph):
        _, links = self.gnn(node_x, link_x, graph)
        return torch.relu(link_x[..., DO_NOTHING_VC] + self.head(links)[..., 0]) * graph.open


def reference_designs(instance) -> np.ndarray:
    """(2, K): the do-nothing and the all-candidates designs."""
    return np.stack([np.zeros(instance.num_candidates), np.ones(instance.num_candidates)])


def reference_flows(instance, demand: np.ndarray) -> np.ndarray:
    """(D, 2, L) UE flows of the do-nothing and all-candidates designs under each of the (D, Z, Z) demands."""
    cap, is_open = instance.link_arrays(reference_designs(instance))
    d = len(demand)
    res = equilibrium_batch(instance.network, np.tile(cap, (d, 1)), np.tile(is_open, (d, 1)),
                            np.repeat(demand, 2, axis=0), tol=REFERENCE_TOL)
    return res.flows.reshape(d, 2, -1)


def link_inputs(instance, designs: np.ndarray, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(link features (B, L, LINK_FEATURES), capacity (B, L), open (B, L)) of (B, K) designs under one demand
    whose two reference flows are ``refs`` (2, L)."""
    net = instance.network
    cap, is_open = instance.link_arrays(designs)
    ref_cap, _ = instance.link_arrays(reference_designs(instance))
    ref_vc = refs / net.capacity
    ref_time = np.log(net.link_times(refs, ref_cap) / net.free_flow_time)
    per_ref = np.concatenate([ref_vc, ref_time]).T.astype(np.float32)  # (L, 4): vc0, vc1, logt0, logt1
    b = len(designs)
    feats = np.concatenate([
        np.broadcast_to(static_link_features(net), (b, net.num_links, 3)),
        np.stack([is_open, cap / net.capacity.mean(), cap / net.capacity - 1.0], axis=-1),
        np.broadcast_to(per_ref, (b, net.num_links, 4)),
    ], axis=-1).astype(np.float32)
    return feats, cap, is_open


def training_group(instance, rng: np.random.Generator, count: int = 16, rel_std: float = 0.2) -> dict:
    """Training data: one demand drawn from N(d, (rel_std d)^2), ``count`` random designs (each candidate on with
    a per-design probability in [0, 0.8], budget ignored) and their UE flows, plus the two reference flows."""
    from ncosolve.problems.network_generators import perturb_demand

    net = instance.network
    demand = perturb_demand(net.demand, seed=int(rng.integers(2**31)), rel_std=rel_std)
    designs = (rng.random((count, instance.num_candidates)) < rng.uniform(0.0, 0.8, (count, 1))).astype(np.int64)
    cap, is_open = instance.link_arrays(np.concatenate([designs, reference_designs(instance)]))
    res = equilibrium_batch(net, cap, is_open, np.broadcast_to(demand, (count + 2, *demand.shape)),
                            tol=REFERENCE_TOL)
    return {"demand": demand, "designs": designs, "flows": res.flows[:count], "refs": res.flows[count:],
            "ttt": res.tstt[:count]}


class Surrogate:
    """A loaded flow surrogate bound to one instance (its reference equilibria solved once)."""

    def __init__(self, model: FlowSurrogate, instance, demand: np.ndarray | None = None):
        self.model, self.instance = model, instance
        net = instance.network
        self.demand = net.demand if demand is None else np.asarray(demand, dtype=np.float64)
        self.refs = reference_flows(instance, self.demand[None])[0]
        self.node_x = torch.from_numpy(node_features(net, self.demand[None]))

    def flows(self, designs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(predicted UE flows (B, L), link capacities (B, L)) of (B, K) 0/1 designs."""
        feats, cap, is_open = link_inputs(self.instance, np.atleast_2d(designs), self.refs)
        graph = Graph.build(self.instance.network, is_open)
        with torch.inference_mode():
            y = self.model(self.node_x.expand(len(feats), -1, -1), torch.from_numpy(feats), graph)
        return y.double().numpy() * self.instance.network.capacity, cap

    def ttt(self, designs: np.ndarray, chunk: int = 128) -> np.ndarray:
        """(B,) predicted total travel time of each design (BPR times of the predicted flows)."""
        designs = np.atleast_2d(designs)
        out = []
        for start in range(0, len(designs), chunk):
            flows, cap = self.flows(designs[start:start + chunk])
            out.append(self.instance.network.total_travel_time(flows, cap))
        return np.concatenate(out)


def load_surrogate(path=None) -> tuple[FlowSurrogate, dict]:
    """The flow surrogate stored at ``path`` (default: the shipped synthetic-network one) and its meta."""
    path = Path(SHIPPED if path is None else path)
    cfg, meta, state = read_model(path, "surrogate")
    if cfg.edge_features != LINK_FEATURES:
        raise CheckpointError(f"checkpoint {path}: {cfg.edge_features} link features, this ncosolve uses "
                              f"{LINK_FEATURES}")
    return load_weights(FlowSurrogate(cfg), state, path), meta


@lru_cache(maxsize=4)
def _cached(path: str):
    return load_surrogate(path)


@dataclass
class SurrogateFitness:
    """GA fitness from the surrogate, with a cache of every design it scored."""

    surrogate: Surrogate
    cache: dict

    def __call__(self, designs: np.ndarray) -> np.ndarray:
        designs = np.asarray(designs, dtype=np.int64)
        keys = [d.tobytes() for d in designs]
        new = sorted({k for k in keys if k not in self.cache})
        if new:
            todo = np.stack([np.frombuffer(k, dtype=np.int64) for k in new])
            for key, value in zip(new, self.surrogate.ttt(todo)):
                self.cache[key] = float(value)
        return np.array([self.cache[k] for k in keys])


def prepare_surrogate(instance) -> None:
    """Compile the UE solver for the instance's network and load the shipped surrogate (outside the budget)."""
    prepare_equilibrium(instance)
    _cached(str(Path(SHIPPED).resolve()))


def ndp_surrogate_ga(instance, time_limit: float, seed: int = 0, checkpoint=None, population: int = 32,
                     elite: int = 2, mutation: float | None = None, search_share: float = 0.25, stall: int = 30,
                     screen_share: float = 0.6, screen_tol: float = 3e-3, final: int = 3):
    """After the surrogate's two reference equilibria, the time left goes to three stages: (1) the GA with the
    surrogate as fitness for ``search_share`` of it (or until ``stall`` generations bring no better predicted
    design); (2) the designs it scored, best predicted first, re-scored at true UE solved to the loose relative
    gap ``screen_tol`` until ``screen_share`` of it has passed; (3) the ``final`` best of those at the instance's
    own gap; returns the best of (3). ``checkpoint``: a surrogate file (default: the shipped one, trained on
    synthetic cities).
    """
    deadline = time.perf_counter() + time_limit
    path = Path(checkpoint) if checkpoint is not None else SHIPPED
    model, meta = _cached(str(path.resolve()))
    with torch_threads(1):
        fitness = SurrogateFitness(Surrogate(model, instance), {})
        start = time.perf_counter()
        left = max(deadline - start, 0.0)
        search_end = start + search_share * left
        generations = evolve(instance, fitness, lambda: time.perf_counter() > search_end,
                             np.random.default_rng(seed), population, elite, mutation, stall)
    ranked = sorted(fitness.cache, key=fitness.cache.get)
    designs = np.stack([np.frombuffer(k, dtype=np.int64) for k in ranked])
    screen = DesignScorer(instance, start + screen_share * left, tol=screen_tol)
    screened = screen(designs)
    top = np.argsort(np.where(np.isnan(screened), np.inf, screened), kind="stable")[:final]
    true = DesignScorer(instance, deadline)
    ttt = true(designs[top])
    best = int(top[np.nanargmin(ttt)])
    return designs[best].copy(), {
        "checkpoint": path.name, "trained_on": meta["config"]["trained_on"], "generations": generations,
        "surrogate_evaluations": len(ranked), "screened": screen.count, "true_evaluations": true.count,
        "predicted_ttt": fitness.cache[ranked[best]], "ttt": float(np.nanmin(ttt)),
        "rank_of_best_by_surrogate": best}
