"""RL link-selection policy for network design (``ndp-rl``): a GNN over the network scores each candidate.

The policy acts in ``ncosolve/NetworkDesign-v0``: it reads the current design's equilibrium (link v/c and
time ratios from the observation), embeds the network with ``NetworkGNN``, and gives each candidate a logit
from the mean embedding of the links it builds or widens plus its cost share, chosen and affordable flags;
one more logit (from the pooled links and the budget left) stops. Masked actions get -inf. Trained with
REINFORCE in the env (``scripts/train_ndp_rl.py``); the return is the TTT saving over the do-nothing design.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ncosolve.policies.checkpoint import load_weights
from ncosolve.policies.ndp_gnn import (SHIPPED_DIR, GNNConfig, Graph, NetworkGNN, mlp, node_features,
                                       read_model)
from ncosolve.policies.torch_threads import torch_threads
from ncosolve.problems.network import prepare_equilibrium

SHIPPED = SHIPPED_DIR / "policy_synthetic.pt"
LINK_FEATURES = 5  # free-flow time and capacity over their means, open, UE v/c, log(UE time / free-flow time)


class DesignPolicy(nn.Module):
    """Candidate and stop logits for one observation of the network-design env."""

    def __init__(self, cfg: GNNConfig):
        super().__init__()
        self.cfg = cfg
        self.gnn = NetworkGNN(cfg)
        self.candidate = mlp([cfg.hidden + 3, cfg.hidden, 1])
        self.stop = mlp([cfg.hidden + 1, cfg.hidden, 1])

    def forward(self, inputs: dict) -> torch.Tensor:
        """(K + 1,) logits, masked actions at -inf."""
        _, links = self.gnn(inputs["node_x"], inputs["link_x"], inputs["graph"])
        links = links[0]
        members = inputs["members"]  # (K, M) link indices, -1 pads
        emb = (links[members.clamp(min=0)] * (members >= 0)[..., None]).sum(1) / (members >= 0).sum(1, keepdim=True)
        cand = self.candidate(torch.cat([emb, inputs["cand_x"]], -1))[:, 0]
        stop = self.stop(torch.cat([links.mean(0), inputs["budget_left"]], -1))
        logits = torch.cat([cand, stop])
        return logits.masked_fill(~inputs["mask"], -torch.inf)


def policy_inputs(instance, obs: dict) -> dict:
    """Model inputs from an env observation of ``instance``."""
    net = instance.network
    links = obs["links"]
    link_x = np.stack([links[:, 0] / net.free_flow_time.mean(), links[:, 1] / net.capacity.mean(), links[:, 2],
                       links[:, 3], np.log(np.maximum(links[:, 4], 1e-12))], axis=1).astype(np.float32)
    return {"node_x": torch.from_numpy(node_features(net, net.demand[None])),
            "link_x": torch.from_numpy(link_x)[None], "graph": Graph.build(net, links[None, :, 2] > 0),
            "members": torch.from_numpy(np.array(instance.candidate_links)),
            "cand_x": torch.from_numpy(obs["candidates"].astype(np.float32)),
            "budget_left": torch.from_numpy(obs["budget_left"].astype(np.float32)),
            "mask": torch.from_numpy(obs["action_mask"].astype(bool))}


def rollout(policy: DesignPolicy, env, generator: torch.Generator | None = None, greedy: bool = False,
            deadline: float = np.inf) -> tuple[np.ndarray, float, torch.Tensor]:
    """One episode in ``env`` (a NetworkDesignEnv): (design, final TTT from ``evaluate``, sum of log-probs).

    Sampling with ``generator`` unless ``greedy``; past ``deadline`` the policy stops adding candidates.
    """
    obs, info = env.reset()
    logp = torch.zeros(())
    done = False
    while not done:
        logits = policy(policy_inputs(env.instance, obs))
        if time.perf_counter() > deadline:
            action = len(logits) - 1
        elif greedy:
            action = int(torch.argmax(logits))
        else:
            action = int(torch.multinomial(torch.softmax(logits, 0), 1, generator=generator))
        logp = logp + torch.log_softmax(logits, 0)[action]
        obs, _, done, _, info = env.step(action)
        done = done or action == len(logits) - 1
    return env.design.copy(), float(info["objective"]), logp


def load_design_policy(path=None) -> tuple[DesignPolicy, dict]:
    """The policy stored at ``path`` (default: the shipped synthetic-network one) and its meta."""
    path = Path(SHIPPED if path is None else path)
    cfg, meta, state = read_model(path, "policy")
    return load_weights(DesignPolicy(cfg), state, path), meta


@lru_cache(maxsize=4)
def _cached(path: str):
    return load_design_policy(path)


def prepare_ndp_rl(instance) -> None:
    """Compile the UE solver for the instance's network and load the shipped policy (outside the budget)."""
    prepare_equilibrium(instance)
    _cached(str(Path(SHIPPED).resolve()))


def ndp_rl(instance, time_limit: float, seed: int = 0, checkpoint=None, samples: int = 16):
    """The best of one greedy and up to ``samples`` sampled rollouts of the policy within ``time_limit``.
    ``checkpoint``: a policy file (default: the shipped one, trained on synthetic cities)."""
    from ncosolve.envs.network_design import NetworkDesignEnv

    deadline = time.perf_counter() + time_limit
    path = Path(checkpoint) if checkpoint is not None else SHIPPED
    policy, meta = _cached(str(path.resolve()))
    env = NetworkDesignEnv(instance)
    generator = torch.Generator().manual_seed(seed)
    with torch_threads(1), torch.inference_mode():
        best, best_ttt, _ = rollout(policy, env, greedy=True, deadline=deadline)
        runs = 1
        while runs <= samples and time.perf_counter() < deadline:
            design, ttt, _ = rollout(policy, env, generator, deadline=deadline)
            runs += 1
            if ttt < best_ttt:
                best, best_ttt = design, ttt
    return best, {"checkpoint": path.name, "trained_on": meta["config"]["trained_on"], "rollouts": runs,
                  "ttt": best_ttt}
