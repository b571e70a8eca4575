"""solve() method ``mapf-learned``: the Follower-style decentralized policy on one-shot and lifelong MAPF."""

from __future__ import annotations

import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ncosolve.envs.mapf import MAPFCore
from ncosolve.policies.mapf_follower import SHIPPED, Follower, act, load_follower
from ncosolve.policies.torch_threads import torch_threads
from ncosolve.problems.mapf import MAPFInstance, MAPFLifelongInstance


@lru_cache(maxsize=4)
def _cached(path: str):
    return load_follower(path)


def _run(follower: Follower, net, steps: int, seed: int, greedy: bool, deadline: float, until_home: bool) -> int:
    """Step the policy (all agents in one batch) up to ``steps`` times; the number of steps taken."""
    gen = torch.Generator().manual_seed(seed)
    core = follower.core
    for t in range(steps):
        if until_home and np.all(core.pos == core.goals):
            return t
        if time.perf_counter() > deadline:
            return t
        obs, mask = follower.observe()
        actions, probs = act(net, obs, mask, gen, greedy)
        if until_home:
            actions[_parked(follower)] = 0
        follower.step(actions, probs)
    return steps


def _parked(follower: Follower) -> np.ndarray:
    """One-shot agents on their goal that no other agent plans to step onto: they wait (the policy was trained
    in lifelong episodes, where nobody ever rests on a goal)."""
    core = follower.core
    cell = core.pos[:, 0] * core.w + core.pos[:, 1]
    home = np.all(core.pos == core.goals, axis=1)
    moving = follower.next_cell != cell
    return home & ~np.isin(cell, follower.next_cell[moving])


def prepare_learned(instance) -> None:
    """Load the shipped checkpoint and compile the planner and shield kernels on a 2x2 instance of the same kind,
    so a budget pays for none of it (once per kind and process)."""
    _prepare_kind(instance.problem)


@lru_cache(maxsize=None)
def _prepare_kind(problem: str) -> None:
    grid = np.zeros((2, 2), dtype=bool)
    if problem == "mapf-lifelong":
        tiny = MAPFLifelongInstance(grid, [(0, 0), (1, 1)], [[(1, 1), (0, 0)], [(0, 0), (1, 1)]], horizon=3)
    else:
        tiny = MAPFInstance(grid, [(0, 0), (1, 1)], [(1, 1), (0, 0)])
    solve_learned(tiny, time_limit=10.0, shield=True)


def solve_learned(instance, time_limit: float = 10.0, seed: int = 0, checkpoint: str | None = None,
                  max_steps: int | None = None, greedy: bool = False, shield: bool | None = None,
                  pbs_window: int | None = None, threads: int = 1):
    """Paths (agents, T+1, 2) from running the policy in the simulator (conflicting moves become waits, or the
    shield resolves them).

    Lifelong: the instance's horizon; if the time limit stops the policy first, every agent waits for the
    remaining steps (``info["policy_steps"]`` says where it stopped). One-shot: until every agent stands on
    its goal at once; None (infeasible, with the reason in info) if ``max_steps`` (default 4 * (cells +
    agents), as PIBT) or the time limit comes first; an agent on its goal waits unless another agent plans to
    step onto it. Actions are sampled (seeded) unless ``greedy`` (argmax deadlocks more often). ``shield``
    (default: as the checkpoint was trained) resolves each step's moves by PIBT over the agents' action
    preferences instead of turning conflicting moves into waits. ``pbs_window`` (default: the checkpoint's; 0 turns
    it off, leaving every move to the network and the shield) sets the windowed PBS ahead of the shield; it runs as
    part of the shield, so ``shield=False`` turns it off too."""
    start = time.perf_counter()
    path = Path(checkpoint) if checkpoint is not None else SHIPPED
    net, meta = _cached(str(path.resolve()))
    info = {"checkpoint": path.name, "trained": meta["config"].get("training", {}).get("maps", "")}
    lifelong = instance.problem == "mapf-lifelong"
    if lifelong:
        steps = instance.horizon
    else:
        steps = max_steps or 4 * (instance.grid.size + instance.num_agents)
    core = MAPFCore(instance, "restart" if lifelong else "nothing", net.cfg.obs_radius, steps)
    cfg = net.cfg if shield is None else replace(net.cfg, shield=bool(shield))
    cfg = cfg if pbs_window is None else replace(cfg, pbs_window=int(pbs_window))
    info["shield"], info["pbs_window"] = cfg.shield, cfg.pbs_window
    follower = Follower(core, cfg)
    with torch_threads(threads):
        taken = _run(follower, net, steps, seed, greedy, start + 0.95 * time_limit, not lifelong)
    info["policy_steps"] = taken
    paths = np.stack(core.history, axis=1)
    if lifelong:
        if taken < steps:
            paths = np.concatenate([paths, np.repeat(paths[:, -1:], steps - taken, axis=1)], axis=1)
        return paths, info
    if not np.all(core.pos == core.goals):
        home = int(np.all(core.pos == core.goals, axis=1).sum())
        why = "time limit" if taken < steps else "step limit"
        info["infeasible_reason"] = (f"the policy had {home} of {instance.num_agents} agents on their goals after "
                                     f"{taken} steps ({why})")
        return None, info
    return paths, info
