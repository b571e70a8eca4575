"""ncosolve's lifelong MAPF methods inside POGEMA 1.4, on the POGEMA benchmark's own ground.

POGEMA builds the maps, places the agents, draws every new target, applies the moves and counts the throughput
(its ``LifeLongAverageThroughputMetric``); ncosolve only chooses each step's joint action. Configurations, as in
the benchmark's LMAPF experiments (pogema-benchmark, ``raw_data_LMAPF/{01-random,03-warehouse}/*.yaml``):

* ``random``: maps ``validation-random-seed-000`` ... ``-127`` from pogema-toolbox's random generator
  (``generate_map(MapRangeSettings().sample(seed))``: 17-21 x 17-21, obstacle density U[0.1, 0.3]), env seed 0,
  8 / 16 / 24 / 32 / 48 / 64 agents; ``--seeds`` picks the maps.
* ``warehouse``: the benchmark's ``wfi_warehouse`` map (33 x 46) as its experiments register it
  (``algorithms/experiments/03-warehouse/maps.yaml``: agents start in the station blocks at both ends, every
  target is a cell beside a shelf; ``wfi_warehouse_map`` rebuilds it, checked by SHA-256), env seeds 0-127,
  32 / 64 / 96 / 128 / 160 / 192 agents; ``--seeds`` picks the env seeds. ``warehouse-rawcopy``: the same
  shelves with the start / target cells of the copy in ``raw_data_LMAPF/03-warehouse/maps.yaml`` (starts beside
  the shelves, targets at the stations), which this script used before and the published runs did not (see
  ``wfi_warehouse_map``). (pogema-toolbox 0.1.1's ``generate_wfi_warehouse`` yields a different, 28 x 64
  layout, so it cannot rebuild either.)
* both: ``on_target="restart"``, ``max_episode_steps=256``, ``observation_type="POMAPF"``,
  ``collision_system="soft"``, ``obs_radius=5``; the env is made by pogema-toolbox's ``create_env_base`` from
  its ``Environment`` config and reset with ``env.reset(seed=grid_config.seed)``, as its ``run_episode`` does.
  (The benchmark's own ``algorithms/create_env.py`` also hands every algorithm each agent's future targets,
  ``global_lifelong_targets_xy``, and its RHCR plans with them; the planners here get the current targets only.)

How it runs: POGEMA pins old numpy / gymnasium / pydantic, so it lives in its own venv and this script (main
venv, where ncosolve and torch are) starts ``--pogema-python`` on ``DRIVER`` below and talks to it one JSON
line per step over stdin/stdout: POGEMA sends the global obstacle grid, every agent's position and current
target (what pogema-toolbox's ``ProvideGlobalObstacles`` exposes to centralised planners such as RHCR); the
adapter answers with one POGEMA action id per agent. Set the venv up once with

    python -m venv /work/venvs/pogema && /work/venvs/pogema/bin/pip install "pogema>=1.4,<1.5" pogema-toolbox

The adapter (``PogemaAdapter``): the first observation of an episode becomes a ``MAPFLifelongInstance`` (grid,
starts = positions, one goal per agent = its current target, horizon = episode length); each later step only
moves the positions and targets (POGEMA reveals a new target when the old one is reached, never the stream
ahead, so the planners see one goal per agent). Our moves are turned into POGEMA's action ids (0 wait, 1 up,
2 down, 3 left, 4 right: the same order as ``ncosolve.problems.mapf.MOVES``).

Collisions. Our side: every method returns a conflict-free joint move (no two agents on one cell, no two
swapping cells; following into a cell being vacated is allowed): ``mapf-learned`` through its PIBT collision
shield, ``mapf-pibt`` by construction, ``mapf-prioritized`` by its reservation table (PIBT when a window fails);
the adapter checks it every step (``our_conflicts``). POGEMA's side (``soft``): an agent in a swap waits, then
agents aiming at a shared cell or an obstacle wait, cascading to agents that aimed at their cells; for a
conflict-free joint move none of this fires, and the script counts the agents POGEMA did not move as asked
(``pogema_rejected``), expected 0.

Methods (per-step adapters over the library's kernels; nothing in baselines/ or policies/ changed):

* ``mapf-learned``: the shipped ``follower.pt`` (``Follower`` over a ``MAPFCore`` whose positions and goals
  are set from POGEMA each step): plan, network, sampled action, PIBT shield, as ``solve_learned`` steps.
* ``mapf-pibt``: ``pibt_config`` every step, priorities as in the library's lifelong PIBT.
* ``mapf-prioritized``: windowed prioritized planning (window 10, execute 5, as ``solve_prioritized``), planning
  to the current targets only; it also replans when any agent gets a new target (it would otherwise wait out
  the window on the reached one); a window no order solves within ``--plan-limit`` seconds falls back to PIBT
  (``pibt_fallback_steps`` counts those steps).
* ``solo-bound`` (not a method): each agent alone on shortest paths along the targets POGEMA will draw for it
  (``get_lifelong_targets_xy`` replays its per-agent generators), counted as POGEMA counts; an upper bound.

Run: ``python benchmarks/mapf_pogema.py --pogema-python /work/venvs/pogema/bin/python --config random
--agents 32 --seeds 0-15 --methods mapf-learned,mapf-pibt --out benchmarks/results/mapf_pogema.json``.
``--published DIR`` (a pogema-benchmark checkout's ``raw_data_LMAPF``) adds the benchmark's per-run Follower /
RHCR / MATS-LP throughput on the same maps or seeds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ncosolve.problems.mapf import MOVES, MAPFLifelongInstance, neighbor_table
from ncosolve.problems.mapf_kernels import bfs_many
from ncosolve.script_args import executable_file

CONFIGS = {
    "random": {"agents": (8, 16, 24, 32, 48, 64), "seeds": 128, "horizon": 256},
    "warehouse": {"agents": (32, 64, 96, 128, 160, 192), "seeds": 128, "horizon": 256, "map": "experiments"},
    "warehouse-rawcopy": {"agents": (32, 64, 96, 128, 160, 192), "seeds": 128, "horizon": 256, "map": "rawcopy"},
}
METHODS = ("mapf-learned", "mapf-pibt", "mapf-prioritized")

DRIVER = r"""
import json, sys
import pogema
from pogema_toolbox.create_env import Environment, create_env_base
from pogema_toolbox.generators.random_generator import MapRangeSettings, generate_map
from pogema_toolbox.registry import ToolboxRegistry

ToolboxRegistry.setup_logger("ERROR")
out = sys.stdout
sys.stdout = sys.stderr  # nothing but protocol lines on the pipe
env = None

def state(done=False, metrics=None):
    g = env.unwrapped.grid
    return {"agents_xy": [list(map(int, p)) for p in g.get_agents_xy(ignore_borders=True)],
            "targets_xy": [list(map(int, p)) for p in g.get_targets_xy(ignore_borders=True)],
            "done": done, "metrics": metrics}

for line in sys.stdin:
    req = json.loads(line)
    if "reset" in req:
        r = req["reset"]
        if r["config"] == "random":
            name = "validation-random-seed-%03d" % r["seed"]
            grid_map, seed = generate_map(MapRangeSettings().sample(r["seed"])), 0
        else:
            name, grid_map, seed = "wfi_warehouse", r["map"], r["seed"]
        ToolboxRegistry.register_maps({name: grid_map})
        cfg = Environment(map_name=name, num_agents=r["agents"], seed=seed, on_target="restart",
                          max_episode_steps=r["horizon"], observation_type="POMAPF", collision_system="soft",
                          obs_radius=5)
        env = create_env_base(cfg)
        env.reset(seed=env.grid_config.seed)
        reply = state()
        reply.update(grid=env.unwrapped.grid.get_obstacles(ignore_borders=True).astype(int).tolist(),
                     map_name=name, env_seed=seed, horizon=env.grid_config.max_episode_steps,
                     pogema=pogema.__version__)
        if r.get("target_streams"):  # the targets POGEMA will draw (its own per-agent generators, replayed)
            reply["target_streams"] = [[list(map(int, p)) for p in seq]
                                       for seq in env.unwrapped.get_lifelong_targets_xy(ignore_borders=True)]
    else:
        obs, rew, terminated, truncated, infos = env.step(req["step"])
        done = all(terminated) or all(truncated)
        reply = state(done, infos[0].get("metrics") if done else None)
    out.write(json.dumps(reply) + "\n")
    out.flush()
"""


# ---------------------------------------------------------------------------------------------- maps
def wfi_warehouse_map(variant: str = "experiments") -> str:
    """The POGEMA benchmark's ``wfi_warehouse`` (33 x 46) in POGEMA's map symbols, rebuilt and checked by SHA-256.

    Eight rows of three 10-cell shelves (``#``), one corridor row between shelf blocks, two 2-cell-wide station
    blocks at each end. Two copies of it exist in pogema-benchmark, with different start / target cells:

    * ``"experiments"`` (the default): ``algorithms/experiments/03-warehouse/maps.yaml``, the file the
      benchmark's ``algorithms/eval.py`` registers and so the map its published LMAPF runs used (unchanged since
      commit 92eb17a, July 2024, before the runs were committed). ``@`` start only (the station blocks at the
      ends), ``$`` target only (the cells beside the shelves), ``!`` corridor (free; under POGEMA 1.3-1.4 neither a
      start nor a target).
    * ``"rawcopy"``: ``raw_data_LMAPF/03-warehouse/maps.yaml`` (commit 3303133), which the previous revision of
      this script used: ``.`` free (start or target), ``@`` start only (beside the shelves), ``$`` target only
      (the station blocks). Agents start beside the shelves and carry to the ends: not the published task (the
      published RHCR throughput exceeds its no-other-agents bound on every seed at 32 and 64 agents, and its
      per-seed correlation with that bound is -0.1, against 0.94 on the experiments' map)."""
    rows = []
    for r in range(33):
        if variant == "experiments":
            corridor, shelf_side, station = "!", "$", "!@@!@@!"
        elif variant == "rawcopy":
            corridor, shelf_side, station = ".", "@", ".$$.$$."
        else:
            raise ValueError(f"unknown wfi_warehouse variant {variant!r}")
        if r % 4 == 0:
            rows.append(corridor * 46)
            continue
        block = ("#" if r % 4 == 2 else shelf_side) * 10
        rows.append(station + corridor.join([block] * 3) + station)
    return "\n".join(rows)


WFI_WAREHOUSE_SHA256 = {"experiments": "0d4407bf968989567ce1596d819eb31d5f5b141b99cc6efe3bf4c5e67e60341c",
                        "rawcopy": "8b96a4f81a2447a679618d590ca1755de34f05f513868462818b997f89c81a5c"}
"""SHA-256 of each ``wfi_warehouse`` map text (pogema-benchmark commit 3303133:
``algorithms/experiments/03-warehouse/maps.yaml`` and ``raw_data_LMAPF/03-warehouse/maps.yaml``)"""


def warehouse_map(config: str) -> str:
    """The ``wfi_warehouse`` variant of a warehouse configuration, its hash checked."""
    variant = CONFIGS[config]["map"]
    text = wfi_warehouse_map(variant)
    if hashlib.sha256(text.encode()).hexdigest() != WFI_WAREHOUSE_SHA256[variant]:
        raise RuntimeError(f"wfi_warehouse_map({variant!r}) no longer matches the benchmark's map")
    return text


# ---------------------------------------------------------------------------------------------- adapter
def action_ids(pos: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """POGEMA action ids (0 wait, 1 up, 2 down, 3 left, 4 right) taking (agents, 2) ``pos`` to ``nxt``;
    ValueError if a target is not a grid neighbour (or the cell itself)."""
    delta = np.asarray(nxt, dtype=np.int64) - np.asarray(pos, dtype=np.int64)
    match = np.all(delta[:, None, :] == MOVES[None], axis=2)
    bad = ~match.any(axis=1)
    if bad.any():
        a = int(np.flatnonzero(bad)[0])
        raise ValueError(f"agent {a}: {tuple(pos[a])} -> {tuple(nxt[a])} is not a single move")
    return np.argmax(match, axis=1)


def apply_actions(pos: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Positions after POGEMA action ids, ignoring obstacles and other agents."""
    return np.asarray(pos, dtype=np.int64) + MOVES[np.asarray(actions, dtype=np.int64)]


def joint_conflicts(pos: np.ndarray, nxt: np.ndarray, width: int) -> int:
    """Number of vertex conflicts (extra agents on a cell) plus swaps (pairs exchanging cells) in a joint move."""
    a = np.asarray(pos)[:, 0] * width + np.asarray(pos)[:, 1]
    b = np.asarray(nxt)[:, 0] * width + np.asarray(nxt)[:, 1]
    vertex = len(b) - len(np.unique(b))
    where = {int(c): i for i, c in enumerate(a)}
    swaps = sum(1 for i in range(len(a)) if b[i] != a[i] and where.get(int(b[i]), -1) > i
                and b[where[int(b[i])]] == a[i])
    return int(vertex + swaps)


def to_instance(grid, agents_xy, targets_xy, horizon: int, name: str | None = None) -> MAPFLifelongInstance:
    """Our lifelong instance from a POGEMA observation: obstacle grid (1 = obstacle), positions and current
    targets as (row, col) without POGEMA's border; one goal per agent (the rest of the stream is unknown)."""
    grid = np.asarray(grid).astype(bool)
    targets = np.asarray(targets_xy, dtype=np.int64)
    return MAPFLifelongInstance(grid, np.asarray(agents_xy, dtype=np.int64), targets[:, None, :], horizon, name=name)


class _Stepper:
    """A per-step policy: ``reset(instance, seed)``, then ``act(pos, targets) -> next cells (agents, 2)`` and
    ``arrived(mask)`` after POGEMA's step."""

    def reset(self, instance: MAPFLifelongInstance, seed: int) -> None:
        raise NotImplementedError

    def act(self, pos: np.ndarray, targets: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def arrived(self, mask: np.ndarray) -> None:
        pass


class PibtStepper(_Stepper):
    """``mapf-pibt`` one step at a time: PIBT over distance-to-target orders, priority = steps since the last
    goal (fractional part kept, as the library's lifelong PIBT)."""

    def reset(self, instance, seed):
        from ncosolve.baselines.mapf_pibt import _seed

        self.nbr = neighbor_table(instance.grid)
        self.w = instance.grid.shape[1]
        n = instance.num_agents
        self.goal = np.full(n, -1, dtype=np.int64)
        self.dist = np.zeros((n, len(self.nbr)), dtype=np.int32)
        self.prio = np.zeros(n)
        self.occ = np.full((2, len(self.nbr)), -1, dtype=np.int64)
        _seed(seed)

    def act(self, pos, targets):
        from ncosolve.baselines.mapf_pibt import NO_PREFERENCES, pibt_config

        q = (pos[:, 0] * self.w + pos[:, 1]).astype(np.int64)
        g = (targets[:, 0] * self.w + targets[:, 1]).astype(np.int64)
        new = g != self.goal
        if new.any():
            self.dist[new] = bfs_many(self.nbr, g[new].astype(np.int32))
            self.goal = g
            self.prio[new] -= np.floor(self.prio[new])
        empty = np.empty(0, dtype=np.int64)
        q_to = pibt_config(self.nbr, self.dist, g, q, np.argsort(-self.prio), empty, empty, self.occ[0],
                           self.occ[1], NO_PREFERENCES)
        self.prio += 1.0
        return np.stack(np.divmod(q_to, self.w), axis=1)


class WindowedStepper(_Stepper):
    """``mapf-prioritized`` (lifelong): every ``replan_every`` steps, or when an agent got a new target or POGEMA
    moved agents off the plan, all agents are planned to their current targets, conflict-free for ``window``
    steps; PIBT when no order (of three) solves the window within ``plan_limit`` seconds."""

    def __init__(self, window: int = 10, replan_every: int = 5, plan_limit: float = 2.0) -> None:
        self.window, self.replan_every, self.plan_limit = window, replan_every, plan_limit

    def reset(self, instance, seed):
        from ncosolve.baselines.mapf_pibt import _seed
        from ncosolve.baselines.mapf_prioritized import _GoalDistances

        self.nbr = neighbor_table(instance.grid)
        self.w = instance.grid.shape[1]
        n = instance.num_agents
        self.dists = _GoalDistances(self.nbr)
        self.rng = np.random.default_rng(seed)
        self.reached = np.zeros(n, dtype=np.int64)
        self.plan, self.plan_goals, self.s = None, None, 0
        self.occ = np.full((2, len(self.nbr)), -1, dtype=np.int64)
        self.fallback_steps = 0
        _seed(seed)

    def act(self, pos, targets):
        from ncosolve.baselines.mapf_pibt import NO_PREFERENCES, pibt_config
        from ncosolve.baselines.mapf_prioritized import _plan_window

        q = (pos[:, 0] * self.w + pos[:, 1]).astype(np.int64)
        g = (targets[:, 0] * self.w + targets[:, 1]).astype(np.int64)
        n = len(q)
        stale = (self.plan is None or self.s >= self.replan_every or np.any(g != self.plan_goals)
                 or np.any(self.plan[:, self.s] != q))
        if stale:
            deadline = time.perf_counter() + self.plan_limit
            self.plan, self.plan_goals, self.s = None, g, 0
            streams, k = g[:, None], np.zeros(n, dtype=np.int64)
            for attempt in range(3):
                if time.perf_counter() > deadline:
                    break
                order = (np.argsort(-self.reached + self.rng.random(n)) if attempt == 0
                         else self.rng.permutation(n))
                self.plan = _plan_window(self.nbr, self.dists, q, streams, k, order, self.window, deadline)
                if self.plan is not None:
                    break
        if self.plan is not None:
            self.s += 1
            q_to = self.plan[:, self.s]
        else:
            dist = np.stack([self.dists[int(c)] for c in g])
            empty = np.empty(0, dtype=np.int64)
            q_to = pibt_config(self.nbr, dist, g, q, np.argsort(-self.reached, kind="stable"), empty, empty,
                               self.occ[0], self.occ[1], NO_PREFERENCES)
            self.fallback_steps += 1
        return np.stack(np.divmod(q_to, self.w), axis=1)

    def arrived(self, mask):
        self.reached += mask


class LearnedStepper(_Stepper):
    """``mapf-learned`` one step at a time: the shipped Follower network with its planner and PIBT shield over a
    ``MAPFCore`` whose positions and goals are POGEMA's (the core never steps itself)."""

    def __init__(self, checkpoint: str | None = None, greedy: bool = False, shield: bool | None = None) -> None:
        import torch

        from ncosolve.policies.mapf_follower import load_follower

        torch.set_num_threads(1)
        self.net, self.meta = load_follower(checkpoint)
        self.cfg = self.net.cfg if shield is None else replace(self.net.cfg, shield=bool(shield))
        self.greedy = greedy

    def reset(self, instance, seed):
        import torch

        from ncosolve.policies.mapf_follower import Follower

        self.core = _mirror_core(instance, self.cfg.obs_radius)
        self.follower = Follower(self.core, self.cfg)
        self.gen = torch.Generator().manual_seed(seed)

    def act(self, pos, targets):
        from ncosolve.policies.mapf_follower import act

        self.core.pos = np.asarray(pos, dtype=np.int64)
        self.core.set_goals(targets)
        obs, mask = self.follower.observe()
        actions, probs = act(self.net, obs, mask, self.gen, self.greedy)
        if self.cfg.shield:
            actions = self.follower.shield(actions, probs)
        return apply_actions(self.core.pos, actions)

    def arrived(self, mask):
        f = self.follower
        f.waiting = np.where(mask, 0.0, f.waiting + 1.0)


def _mirror_core(instance: MAPFLifelongInstance, obs_radius: int):
    """A ``MAPFCore`` (the Follower's view of the world: grid, padding, legal-move mask) whose positions and
    goals the adapter sets from POGEMA."""
    from ncosolve.envs.mapf import MAPFCore

    class MirrorCore(MAPFCore):
        def __init__(self, inst, r):
            self._goals = inst.goals.copy()
            super().__init__(inst, "restart", r, inst.horizon)

        @property
        def goals(self):
            return self._goals

        def set_goals(self, targets):
            self._goals = np.asarray(targets, dtype=np.int64)

    return MirrorCore(instance, obs_radius)


def make_stepper(method: str, plan_limit: float = 2.0) -> _Stepper:
    """The per-step adapter of one of ``METHODS``, its kernels compiled (and checkpoint loaded) on a 3x3 grid so
    that no decision time below includes JIT compilation."""
    if method == "mapf-learned":
        stepper = LearnedStepper()
    elif method == "mapf-pibt":
        stepper = PibtStepper()
    elif method == "mapf-prioritized":
        stepper = WindowedStepper(plan_limit=plan_limit)
    else:
        raise ValueError(f"method {method!r} is not one of {METHODS}")
    tiny = to_instance(np.zeros((3, 3), dtype=int), [[0, 0], [2, 2]], [[2, 2], [0, 0]], 4)
    stepper.reset(tiny, 0)
    pos, targets = tiny.starts.copy(), tiny.goals.copy()
    for _ in range(4):
        pos = stepper.act(pos, targets)
        stepper.arrived(np.all(pos == targets, axis=1))
    return stepper


class PogemaAdapter:
    """Plays one POGEMA episode with a stepper: POGEMA state in, POGEMA action ids out, collisions counted."""

    def __init__(self, stepper: _Stepper) -> None:
        self.stepper = stepper

    def start(self, reply: dict, seed: int) -> MAPFLifelongInstance:
        self.instance = to_instance(reply["grid"], reply["agents_xy"], reply["targets_xy"], reply["horizon"],
                                    name=reply.get("map_name"))
        self.pos = np.asarray(reply["agents_xy"], dtype=np.int64)
        self.targets = np.asarray(reply["targets_xy"], dtype=np.int64)
        self.stepper.reset(self.instance, seed)
        self.our_conflicts = self.rejected = self.reached = 0
        self.decide_s = []
        return self.instance

    def decide(self) -> list[int]:
        start = time.perf_counter()
        nxt = self.stepper.act(self.pos, self.targets)
        actions = action_ids(self.pos, nxt)
        self.decide_s.append(time.perf_counter() - start)
        self.our_conflicts += joint_conflicts(self.pos, nxt, self.instance.grid.shape[1])
        self.intended = nxt
        return actions.tolist()

    def observe(self, reply: dict) -> None:
        pos = np.asarray(reply["agents_xy"], dtype=np.int64)
        self.rejected += int(np.any(pos != self.intended, axis=1).sum())
        arrived = np.all(pos == self.targets, axis=1)
        self.reached += int(arrived.sum())
        self.stepper.arrived(arrived)
        self.pos, self.targets = pos, np.asarray(reply["targets_xy"], dtype=np.int64)


def solo_bound(grid, agents_xy, target_streams, horizon: int) -> float:
    """Throughput upper bound of an episode: each agent alone, walking shortest paths along the targets POGEMA
    will give it (its per-agent generators draw the k-th target independently of when the (k-1)-th is
    reached), counted as POGEMA counts."""
    from ncosolve.problems.mapf import distance_maps

    grid = np.asarray(grid).astype(bool)
    w = grid.shape[1]
    total = 0
    for start, seq in zip(np.asarray(agents_xy), target_streams):
        seq = np.asarray(seq, dtype=np.int64)
        d = distance_maps(grid, seq)  # from each target
        here, t = start, 0
        for k in range(len(seq)):
            t += int(d[k, here[0] * w + here[1]])
            if t > horizon:
                break
            total += 1
            here = seq[k]
    return total / horizon


# ---------------------------------------------------------------------------------------------- driver
class Pogema:
    """The POGEMA side: a ``DRIVER`` process in POGEMA's venv."""

    def __init__(self, python: str) -> None:
        self.proc = subprocess.Popen([python, "-c", DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)

    def call(self, request: dict) -> dict:
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise RuntimeError("the POGEMA driver stopped (is --pogema-python the python of a venv with pogema 1.4 "
                               "and pogema-toolbox?); its last words:\n" + self.proc.stderr.read()[-3000:])
        return json.loads(line)

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except BrokenPipeError:  # the driver already died; call() reported why
            pass
        self.proc.wait(timeout=30)


def run_episode(pogema: Pogema, stepper: _Stepper, config: str, agents: int, seed: int) -> dict:
    """One POGEMA episode; POGEMA's throughput plus the adapter's counts."""
    req = {"config": config, "agents": agents, "seed": seed, "horizon": CONFIGS[config]["horizon"]}
    if config != "random":
        req["map"] = warehouse_map(config)
    req["target_streams"] = True
    reply = pogema.call({"reset": req})
    adapter = PogemaAdapter(stepper)
    adapter.start(reply, seed)
    bound = solo_bound(reply["grid"], reply["agents_xy"], reply["target_streams"], reply["horizon"])
    wall = time.perf_counter()
    while True:
        reply = pogema.call({"step": adapter.decide()})
        adapter.observe(reply)
        if reply["done"]:
            break
    steps = len(adapter.decide_s)
    out = {"throughput": reply["metrics"]["avg_throughput"], "steps": steps,
           "our_count": adapter.reached / steps, "solo_bound": bound, "our_conflicts": adapter.our_conflicts,
           "pogema_rejected": adapter.rejected, "decide_ms": 1000 * float(np.mean(adapter.decide_s)),
           "episode_s": time.perf_counter() - wall}
    if isinstance(stepper, WindowedStepper):
        out["pibt_fallback_steps"] = stepper.fallback_steps
    return out


# ---------------------------------------------------------------------------------------------- published
PUBLISHED_DIRS = {"random": "01-random", "warehouse": "03-warehouse", "warehouse-rawcopy": "03-warehouse"}


def published(raw_dir: str | None, config: str, agents: int, seeds: list[int]) -> dict:
    """Per-algorithm (mean over ``seeds``, mean over all runs, runs) of the benchmark's raw LMAPF results."""
    if raw_dir is None:
        return {}
    out = {}
    for algo in ("Follower", "RHCR", "MATS-LP"):
        path = Path(raw_dir) / PUBLISHED_DIRS[config] / f"{algo}.json"
        if not path.exists():
            continue
        runs = [r for r in json.loads(path.read_text()) if r["env_grid_search"]["num_agents"] == agents]
        key = (lambda r: int(r["env_grid_search"]["map_name"][-3:])) if config == "random" else (
            lambda r: int(r["env_grid_search"]["seed"]))
        same = [r["metrics"]["avg_throughput"] for r in runs if key(r) in seeds]
        out[algo] = {"same_seeds_mean": float(np.mean(same)) if same else None, "same_seeds_runs": len(same),
                     "all_mean": float(np.mean([r["metrics"]["avg_throughput"] for r in runs])),
                     "all_runs": len(runs),
                     "runtime_s_mean": float(np.mean([r["metrics"].get("runtime", np.nan) for r in runs]))}
    return out


def parse_seeds(text: str) -> list[int]:
    """``"0-15"`` or ``"0,3,5"`` (or a mix) to a list of ints."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def bound_episode(pogema: Pogema, config: str, agents: int, seed: int) -> dict:
    """The ``solo-bound`` pseudo-method: ``solo_bound`` of the episode POGEMA sets up, no stepping."""
    req = {"config": config, "agents": agents, "seed": seed, "horizon": CONFIGS[config]["horizon"],
           "target_streams": True}
    if config != "random":
        req["map"] = warehouse_map(config)
    reply = pogema.call({"reset": req})
    return {"throughput": solo_bound(reply["grid"], reply["agents_xy"], reply["target_streams"], reply["horizon"])}


def make_row(config: str, agents: int, method: str, runs: dict, raw_dir: str | None) -> dict:
    """One output row from per-seed run records ``{seed: record}``."""
    seeds = sorted(runs)
    thr = [runs[s]["throughput"] for s in seeds]

    def mean(key):
        vals = [runs[s][key] for s in seeds if key in runs[s]]
        return float(np.mean(vals)) if vals else None

    row = {"config": config, "agents": agents, "method": method, "seeds": seeds,
           "throughput_mean": float(np.mean(thr)), "throughput_per_seed": thr,
           "decide_ms_mean": mean("decide_ms"), "episode_s_mean": mean("episode_s"),
           "our_conflicts": sum(runs[s].get("our_conflicts", 0) for s in seeds),
           "pogema_rejected": sum(runs[s].get("pogema_rejected", 0) for s in seeds),
           "our_count_matches": all(abs(runs[s].get("our_count", runs[s]["throughput"]) - runs[s]["throughput"])
                                    < 1e-9 for s in seeds),
           "published": published(raw_dir, config, agents, seeds), "runs": {str(s): runs[s] for s in seeds}}
    if method == "mapf-prioritized":
        row["pibt_fallback_steps"] = sum(runs[s].get("pibt_fallback_steps", 0) for s in seeds)
    return row


def _old_runs(row: dict) -> dict:
    """Per-seed records of a stored row (rows written before ``runs`` existed carry only the per-seed
    throughput; their means stand in for each seed, which keeps merged means exact)."""
    if "runs" in row:
        return {int(s): r for s, r in row["runs"].items()}
    extra = {k: row[k + "_mean"] for k in ("decide_ms", "episode_s") if row.get(k + "_mean") is not None}
    return {s: {"throughput": t, **extra} for s, t in zip(row["seeds"], row["throughput_per_seed"])}


def _run_all(args, pogema: Pogema, agents_list: list[int], methods: list[str], seeds: list[int], old: dict,
             rows: list) -> None:
    """Every (agent count, method) of the run over the seeds, each row printed and appended to ``rows``."""
    for agents in agents_list:
        for method in methods:
            stepper = None if method == "solo-bound" else make_stepper(method, args.plan_limit)
            runs = {}
            for seed in seeds:
                if stepper is None:
                    runs[seed] = bound_episode(pogema, args.config, agents, seed)
                    continue
                runs[seed] = r = run_episode(pogema, stepper, args.config, agents, seed)
                print(f"{args.config} {agents} {method} seed {seed}: {r['throughput']:.4f} "
                      f"({r['decide_ms']:.1f} ms/step, conflicts {r['our_conflicts']}, "
                      f"rejected {r['pogema_rejected']})", file=sys.stderr, flush=True)
            key = (args.config, agents, method)
            merged = {**_old_runs(old.pop(key)), **runs} if key in old else runs
            row = make_row(args.config, agents, method, merged, args.published)
            rows.append(row)
            pub = "  ".join(f"{k} {v['same_seeds_mean']:.3f} (all {v['all_runs']}: {v['all_mean']:.3f})"
                            for k, v in row["published"].items() if v["same_seeds_mean"] is not None)
            ms = f"{row['decide_ms_mean']:.1f} ms/step" if row["decide_ms_mean"] is not None else ""
            print(f"{args.config:9s} {agents:4d} {method:17s} {row['throughput_mean']:.3f} "
                  f"({len(row['seeds'])} seeds)  {ms}  {pub}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pogema-python", required=True, type=executable_file, help="python of POGEMA 1.4's venv")
    parser.add_argument("--config", choices=sorted(CONFIGS), default="random",
                        help="the benchmark's random maps or its wfi_warehouse (see the docstring)")
    parser.add_argument("--agents", default=None, help="comma-separated agent counts (default: the benchmark's)")
    parser.add_argument("--seeds", default="0-127", help="maps (random) or env seeds (warehouse), e.g. 0-15")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated, of {', '.join(METHODS)} and solo-bound (the no-other-agents bound)")
    parser.add_argument("--plan-limit", type=float, default=2.0, help="mapf-prioritized: seconds per window")
    parser.add_argument("--published", default=None, help="pogema-benchmark's raw_data_LMAPF directory")
    parser.add_argument("--out", default=None, help="JSON file for the rows (merged by seed with rows already there)")
    args = parser.parse_args()
    try:
        agents_list = ([int(a) for a in args.agents.split(",")] if args.agents
                       else list(CONFIGS[args.config]["agents"]))
    except ValueError:
        parser.error(f"--agents {args.agents!r}: expected agent counts such as 32,64")
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError:
        parser.error(f"--seeds {args.seeds!r}: expected seeds such as 0-15 or 0,3,5")
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(METHODS) - {"solo-bound"})
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)}; choose from {', '.join(METHODS)}, solo-bound")
    old = {}
    if args.out and Path(args.out).exists():
        old = {(r["config"], r["agents"], r["method"]): r for r in json.loads(Path(args.out).read_text())["rows"]}
    pogema = Pogema(str(args.pogema_python))
    rows, stopped = [], None
    try:
        _run_all(args, pogema, agents_list, methods, seeds, old, rows)
    except (RuntimeError, KeyboardInterrupt) as err:  # keep the rows finished so far
        stopped = str(err) or "interrupted"
    finally:
        pogema.close()
    if args.out and (rows or stopped is None):
        result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
                  "load_avg_1min": round(os.getloadavg()[0], 2), "rows": list(old.values()) + rows}
        result["rows"].sort(key=lambda r: (r["config"], r["agents"], r["method"]))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
        print(f"written to {args.out}")
    if stopped is not None:
        sys.exit(f"mapf_pogema.py: stopped after {len(rows)} finished rows: {stopped}")


if __name__ == "__main__":
    main()
