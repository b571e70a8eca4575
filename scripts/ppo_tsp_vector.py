"""PPO with action masking on ``ncosolve/TSP-v0`` through the vector env, CleanRL-style: one file, top to bottom.

    python scripts/ppo_tsp_vector.py --size 20 --num-envs 64 --updates 200
    python scripts/ppo_tsp_vector.py --size 20 --updates 2 --num-envs 8     # smoke run (seconds)

This is the example of an off-the-shelf agent trained in ncosolve's envs, not one of ncosolve's methods: the
network only reads the observation dict the envs return (``coords``, ``current``, ``visited``,
``action_mask``), the env's ``action_mask`` becomes ``-inf`` logits, and the env's rewards (minus the length
driven) are the only learning signal. ``gym.make_vec(..., vectorization_mode="vector_entry_point")`` steps
all ``num_envs`` instances at once in the routing core the attention policies train on; finished episodes
restart on fresh instances in the same step, and ``info["final_info"]`` holds their ``evaluate`` lengths.
Prints one line per update: mean tour length of the episodes finished in that update, and the PPO losses.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import ncosolve  # noqa: F401  (registers the ncosolve/* env ids)
from ncosolve.script_args import parse_dataclass


@dataclass
class Args:
    size: int = 20
    """TSP nodes"""
    num_envs: int = 64
    """instances stepped at once"""
    steps: int = 40
    """env steps per update (per env)"""
    updates: int = 100
    """PPO updates"""
    epochs: int = 4
    """optimisation epochs per update"""
    minibatches: int = 4
    """minibatches per epoch"""
    lr: float = 3e-4
    """Adam learning rate"""
    gamma: float = 1.0
    """discount (an episode's return is minus its tour length)"""
    gae_lambda: float = 0.95
    """GAE lambda"""
    clip: float = 0.2
    """PPO ratio clip"""
    ent_coef: float = 0.01
    """entropy bonus"""
    vf_coef: float = 0.5
    """value loss weight"""
    hidden: int = 64
    """hidden width"""
    seed: int = 0
    """seeds torch, numpy and the env"""
    threads: int = 1
    """torch threads"""


class Agent(nn.Module):
    """Scores every node from its own features relative to the current node; the value reads their mean."""

    def __init__(self, hidden: int):
        super().__init__()
        self.node = nn.Sequential(nn.Linear(6, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.actor = nn.Linear(hidden, 1)
        self.critic = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def features(self, obs: dict) -> torch.Tensor:
        xy = obs["coords"]  # (B, N, 2)
        here = xy.gather(1, obs["current"].long()[:, None, None].expand(-1, 1, 2))  # (B, 1, 2)
        delta = xy - here
        left = 1.0 - obs["visited"].float()
        share = left.mean(1, keepdim=True).expand_as(left)
        return self.node(torch.cat([xy, delta, delta.norm(dim=-1, keepdim=True), (left * share)[..., None]], -1))

    def act(self, obs: dict, action: torch.Tensor | None = None):
        """(action, log-prob, entropy, value); masked nodes get probability 0."""
        h = self.features(obs)
        logits = self.actor(h).squeeze(-1).masked_fill(obs["action_mask"] == 0, float("-inf"))
        dist = torch.distributions.Categorical(logits=logits)
        action = dist.sample() if action is None else action
        return action, dist.log_prob(action), dist.entropy(), self.critic(h.mean(1)).squeeze(-1)


def main(args: Args) -> tuple[Agent, list[dict]]:
    """Train and return the agent and one row per update."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    envs = gym.make_vec("ncosolve/TSP-v0", num_envs=args.num_envs, vectorization_mode="vector_entry_point",
                        size=args.size, tensors=True)
    agent = Agent(args.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.lr)
    obs, _ = envs.reset(seed=args.seed)
    b, t = args.num_envs, args.steps
    history = []
    for update in range(1, args.updates + 1):
        tick = time.perf_counter()
        stored, actions = [], torch.zeros(t, b, dtype=torch.long)
        logps, values, rewards, dones = (torch.zeros(t, b) for _ in range(4))
        lengths = []
        with torch.no_grad():
            for k in range(t):  # rollout
                stored.append(obs)
                actions[k], logps[k], _, values[k] = agent.act(obs)
                obs, reward, terminated, _, info = envs.step(actions[k])
                rewards[k], dones[k] = torch.as_tensor(reward).float(), torch.as_tensor(terminated).float()
                if "final_info" in info:
                    lengths += info["final_info"]["objective"][info["_final_info"]].tolist()
            next_value = agent.act(obs)[3]
            advantages, last = torch.zeros(t, b), torch.zeros(b)  # GAE; an ended episode bootstraps nothing
            for k in reversed(range(t)):
                after = next_value if k == t - 1 else values[k + 1]
                delta = rewards[k] + args.gamma * after * (1 - dones[k]) - values[k]
                last = delta + args.gamma * args.gae_lambda * (1 - dones[k]) * last
                advantages[k] = last
            returns = advantages + values
        flat = {key: torch.stack([o[key] for o in stored]).flatten(0, 1) for key in stored[0]}
        flat_act, flat_logp = actions.flatten(), logps.flatten()
        flat_adv, flat_ret = advantages.flatten(), returns.flatten()
        for _ in range(args.epochs):  # PPO epochs over shuffled minibatches
            order = torch.randperm(t * b)
            for idx in order.chunk(args.minibatches):
                _, logp, entropy, value = agent.act({key: v[idx] for key, v in flat.items()}, flat_act[idx])
                adv = flat_adv[idx]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                ratio = (logp - flat_logp[idx]).exp()
                policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - args.clip, 1 + args.clip)).mean()
                value_loss = 0.5 * (value - flat_ret[idx]).pow(2).mean()
                loss = policy_loss + args.vf_coef * value_loss - args.ent_coef * entropy.mean()
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                optimizer.step()
        row = {"update": update, "episodes": len(lengths),
               "mean_length": float(np.mean(lengths)) if lengths else None,
               "policy_loss": float(policy_loss), "value_loss": float(value_loss),
               "entropy": float(entropy.mean()), "seconds": round(time.perf_counter() - tick, 3)}
        history.append(row)
        print(json.dumps(row))
    envs.close()
    return agent, history


if __name__ == "__main__":
    main(parse_dataclass(Args, __doc__.splitlines()[0]))
