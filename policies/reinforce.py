"""Training pieces for the attention policy: data, REINFORCE with the POMO shared baseline, validation."""

from __future__ import annotations

import numpy as np
import torch

import ncosolve
from ncosolve.policies.atsp import generate_atsp
from ncosolve.policies.batch import from_instances
from ncosolve.policies.decode import Decoding, decode, rollout
from ncosolve.policies.model import AttentionPolicy

PROBLEMS = ("tsp", "cvrp", "cvrptw", "atsp")


def make_instances(problem: str, count: int, size: int, seed: int, distribution: str = "uniform") -> list:
    """``count`` seeded training/validation instances; "atsp" is the matrix TSP (uniform distribution only).

    ``distribution="all"`` draws a third each from uniform, clustered and mixed customers (Solomon's R, C and RC
    classes), each third from its own seed."""
    if problem == "atsp":
        if distribution != "uniform":
            raise ValueError("atsp instances come from one distribution: uniform")
        return generate_atsp(count, size, seed)
    if distribution == "all":
        kinds = ncosolve.generators.DISTRIBUTIONS
        parts = [count // len(kinds) + (k < count % len(kinds)) for k in range(len(kinds))]
        return [inst for k, (kind, m) in enumerate(zip(kinds, parts)) if m
                for inst in ncosolve.generate(problem, m, size, seed=seed + k, distribution=kind)]
    return ncosolve.generate(problem, count, size, seed=seed, distribution=distribution)


def reinforce_step(policy: AttentionPolicy, optimizer: torch.optim.Optimizer, instances,
                   max_grad_norm: float = 1.0) -> dict:
    """One POMO update: sample one trajectory per start, advantage = length - mean over starts."""
    policy.train()
    batch = from_instances(instances)
    length, _, logp = rollout(policy, batch, multistart=True, sample=True)
    advantage = (length - length.mean(1, keepdim=True)).float()
    loss = (advantage * logp).mean()
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    optimizer.step()
    return {"loss": float(loss.detach()), "length": float(length.mean()), "best": float(length.min(1).values.mean())}


def reference_costs(instances, method: str, time_limit: float, tries: int = 1) -> np.ndarray:
    """Costs of ``method`` (e.g. lkh, pyvrp) on ``instances``, the yardstick for validation gaps. An instance
    the reference finds nothing for is retried with twice the time, up to ``tries`` runs in all (LKH's
    preprocessing can miss a 0.5 s limit on a loaded machine); then NcoError: a missing reference is no gap."""
    costs = []
    for inst in instances:
        for k in range(tries):
            result = ncosolve.solve(inst, method=method, time_limit=time_limit * 2 ** k)
            if result.feasible:
                break
        else:
            spent = f"{time_limit:g} s" + (f" (then doubled, {tries} runs)" if tries > 1 else "")
            raise ncosolve.NcoError(f"reference {method} found no solution for {inst.name} in {spent} "
                                    f"({result.info.get('status') or result.info.get('infeasible_reason')}); "
                                    "give the reference more time")
        costs.append(result.cost)
    return np.array(costs)


def validate(policy: AttentionPolicy, instances, reference: np.ndarray, augment: int = 1) -> dict:
    """Mean cost and mean gap (%) to ``reference`` of greedy multi-start decoding."""
    _, lengths = decode(policy, instances, Decoding(augment=augment))
    gaps = 100.0 * (lengths / reference - 1.0)
    return {"cost": float(lengths.mean()), "gap_pct": float(gaps.mean())}
