"""PPO for the Follower MAPF policy: several lifelong episodes stepped together (all their agents form one
batch for the shared network), GAE per agent, clipped-surrogate updates.

Each agent is one PPO actor with its own reward stream (independent PPO with parameter sharing, as Follower);
lifelong episodes never terminate, so every rollout bootstraps from the value of its last observation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ncosolve.envs.mapf import MAPFCore
from ncosolve.problems.mapf_generators import generate_mapf_lifelong
from ncosolve.policies.mapf_follower import Follower, FollowerConfig, FollowerNet, act
from ncosolve.problems.mapf import evaluate_mapf_lifelong


@dataclass
class PPOConfig:
    """PPO hyper-parameters."""

    lr: float = 1e-3
    """Adam learning rate"""
    gamma: float = 0.95
    """discount"""
    gae_lambda: float = 0.95
    """GAE lambda"""
    clip: float = 0.2
    """surrogate clipping range"""
    ent_coef: float = 0.01
    """entropy bonus"""
    vf_coef: float = 0.5
    """value-loss weight"""
    epochs: int = 2
    """passes over each rollout"""
    minibatches: int = 4
    """minibatches per pass"""
    max_grad_norm: float = 0.5
    """gradient clipping"""
    path_reward: float = 0.1
    """reward for stepping onto the next cell of the plan"""
    goal_reward: float = 1.0
    """reward for reaching the active goal"""


class VecFollower:
    """Lifelong episodes stepped in lockstep; observations and actions are concatenated over their agents."""

    def __init__(self, instances: list, cfg: FollowerConfig, ppo: PPOConfig) -> None:
        self.followers = [Follower(MAPFCore(inst, "restart", cfg.obs_radius, inst.horizon), cfg,
                                   ppo.path_reward, ppo.goal_reward) for inst in instances]
        self.splits = np.cumsum([f.num_agents for f in self.followers])[:-1]

    @property
    def num_agents(self) -> int:
        """Agents over all episodes."""
        return sum(f.num_agents for f in self.followers)

    def observe(self) -> tuple[np.ndarray, np.ndarray]:
        """(windows, legal-action masks) of every agent."""
        parts = [f.observe() for f in self.followers]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def step(self, actions: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, int]:
        """(per-agent rewards, goals reached) after one joint step of every episode (``probs``: the policy's action
        probabilities, which the collision shield uses when the config has it)."""
        out = [f.step(a, p) for f, a, p in zip(self.followers, np.split(actions, self.splits),
                                                np.split(probs, self.splits))]
        return np.concatenate([o[0] for o in out]), int(sum(o[1].sum() for o in out))


def make_instances(seed: int, count: int, kind: str, size: int, agents: tuple[int, int], horizon: int) -> list:
    """``count`` seeded lifelong training instances, agent counts uniform in ``agents`` (inclusive)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        a = int(rng.integers(agents[0], agents[1] + 1))
        s = int(rng.integers(2**31 - 1))
        opts = {"size": size} if kind in ("random", "maze") else {}
        out.append(generate_mapf_lifelong(kind, a, horizon, seed=s, **opts))
    return out


def collect(net: FollowerNet, vec: VecFollower, steps: int, generator: torch.Generator) -> dict:
    """Roll ``steps`` joint steps with the sampling policy; tensors (steps, agents, ...) plus the bootstrap
    value of the last observation and the number of goals reached."""
    obs_l, mask_l, act_l, logp_l, val_l, rew_l = [], [], [], [], [], []
    reached = 0
    obs, mask = vec.observe()
    for _ in range(steps):
        o, m = torch.from_numpy(obs), torch.from_numpy(mask)
        with torch.no_grad():
            logits, value = net(o, m)
        dist = torch.distributions.Categorical(logits=logits)
        a = torch.multinomial(dist.probs, 1, generator=generator).squeeze(1)
        obs_l.append(o), mask_l.append(m), act_l.append(a), logp_l.append(dist.log_prob(a)), val_l.append(value)
        reward, got = vec.step(a.numpy(), dist.probs.numpy())
        rew_l.append(torch.from_numpy(reward))
        reached += got
        obs, mask = vec.observe()
    with torch.no_grad():
        _, last = net(torch.from_numpy(obs), torch.from_numpy(mask))
    return {"obs": torch.stack(obs_l), "mask": torch.stack(mask_l), "actions": torch.stack(act_l),
            "logp": torch.stack(logp_l), "values": torch.stack(val_l), "rewards": torch.stack(rew_l),
            "last_value": last, "goals": reached}


def gae(rewards: torch.Tensor, values: torch.Tensor, last_value: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns) over (steps, agents) with no terminations (lifelong: bootstrapped)."""
    adv = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    nxt = last_value
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * nxt - values[t]
        running = delta + gamma * lam * running
        adv[t] = running
        nxt = values[t]
    return adv, adv + values


def ppo_update(net: FollowerNet, optimizer: torch.optim.Optimizer, batch: dict, cfg: PPOConfig,
               generator: torch.Generator) -> dict:
    """Clipped-surrogate PPO epochs over one rollout; mean losses, entropy and approximate KL."""
    adv, ret = gae(batch["rewards"], batch["values"], batch["last_value"], cfg.gamma, cfg.gae_lambda)
    flat = {k: batch[k].flatten(0, 1) for k in ("obs", "mask", "actions", "logp")}
    adv, ret = adv.flatten(), ret.flatten()
    n = len(adv)
    size = max(1, n // cfg.minibatches)
    stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0}
    count = 0
    net.train()
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n, size):
            idx = perm[start:start + size]
            logits, value = net(flat["obs"][idx], flat["mask"][idx])
            dist = torch.distributions.Categorical(logits=logits)
            logp = dist.log_prob(flat["actions"][idx])
            ratio = torch.exp(logp - flat["logp"][idx])
            a = adv[idx]
            a = (a - a.mean()) / (a.std() + 1e-8)
            pg = torch.max(-a * ratio, -a * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)).mean()
            vl = 0.5 * ((value - ret[idx]) ** 2).mean()
            ent = dist.entropy().mean()
            loss = pg + cfg.vf_coef * vl - cfg.ent_coef * ent
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                kl = ((ratio - 1) - torch.log(ratio)).mean()
            for key, v in zip(stats, (pg, vl, ent, kl)):
                stats[key] += v.item()
            count += 1
    net.eval()
    return {k: v / max(count, 1) for k, v in stats.items()}


def throughput(net: FollowerNet, instance, seed: int = 0, greedy: bool = False) -> float:
    """Lifelong throughput of the policy on ``instance`` (scored by ``evaluate``)."""
    cfg = net.cfg
    follower = Follower(MAPFCore(instance, "restart", cfg.obs_radius, instance.horizon), cfg)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(instance.horizon):
        obs, mask = follower.observe()
        follower.step(*act(net, obs, mask, gen, greedy))
    return evaluate_mapf_lifelong(instance, np.stack(follower.core.history, axis=1))
