"""Grid MAPF as a joint-action Gymnasium env (``ncosolve/MAPF-v0``), following POGEMA's conventions.

Actions per agent: 0 wait, 1 up, 2 down, 3 left, 4 right; positions are (row, col). All agents step at once:
moves into obstacles or off the grid become waits, then vertex and swap conflicts turn the moves involved into
waits, repeated until no conflict is left (a wait can cause a new conflict: it cascades). Modes (``on_target``):

* ``"finish"`` — an agent that reaches its goal leaves the grid (POGEMA's default for one-shot);
* ``"nothing"`` — it stays and keeps acting; the episode ends when all agents are on their goals at once
  (classical one-shot MAPF: the recorded paths are scored by ``evaluate``);
* ``"restart"`` — it gets the next goal of its stream (lifelong MAPF).

Observation (all agents stacked): ``obs`` (agents, 3, 2r+1, 2r+1) channels obstacles (outside the grid counts as
obstacle), other agents, own target (projected onto the window border when outside it); ``xy`` and
``target_xy`` absolute positions; ``action_mask`` (agents, 5) legal actions. Reward: one-shot modes
``-(agents not on their goal)`` per step, so the episode return is minus the time agents spend away from
goals; ``restart`` the number of goals reached in the step. ``info["metrics"]`` at the end of an episode:
``avg_throughput``, ``CSR`` (all agents reached their goal), ``ISR`` (fraction that did), ``SoC``,
``makespan`` — SoC and makespan follow ``evaluate``'s convention in ``"nothing"`` mode (via ``mapf_metrics``) and
are first-arrival sums/maxima in ``"finish"`` mode, as in POGEMA.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ncosolve.errors import InvalidInstance
from ncosolve.problems.mapf_generators import generate_mapf, generate_mapf_lifelong, goal_streams
from ncosolve.problems.mapf import (MOVES, MAPFInstance, MAPFLifelongInstance, evaluate_mapf_lifelong,
                                    mapf_metrics)

MODES = ("finish", "nothing", "restart")


def resolve_moves(pos: np.ndarray, proposed: np.ndarray, active: np.ndarray, width: int) -> np.ndarray:
    """Next positions: ``proposed`` (agents, 2) with every move that makes a vertex or swap conflict (with any
    active agent) replaced by a wait, cascading until conflict-free. Inactive agents are ignored."""
    nxt = np.where(active[:, None], proposed, pos)
    cur_id = pos[:, 0] * width + pos[:, 1]
    idx = np.flatnonzero(active)
    if len(idx) == 0:
        return nxt
    agent_ids = np.arange(len(pos))
    occ = np.full(int(max(cur_id.max(), (nxt[:, 0] * width + nxt[:, 1]).max())) + 1, -1, dtype=np.int64)
    occ[cur_id[idx]] = idx
    while True:
        nxt_id = nxt[:, 0] * width + nxt[:, 1]
        counts = np.bincount(nxt_id[idx], minlength=len(occ))
        moving = active & (nxt_id != cur_id)
        other = occ[nxt_id]
        swap = moving & (other >= 0) & (other != agent_ids) & (nxt_id[np.maximum(other, 0)] == cur_id)
        bad = moving & ((counts[nxt_id] > 1) | swap)
        if not bad.any():
            return nxt
        nxt[bad] = pos[bad]


class MAPFCore:
    """The shared simulator: positions, goals, active flags and per-agent statistics of one episode."""

    def __init__(self, instance, on_target: str, obs_radius: int, max_steps: int) -> None:
        if on_target not in MODES:
            raise InvalidInstance(f"on_target: {on_target!r} is not one of {MODES}")
        self.instance, self.mode, self.r, self.max_steps = instance, on_target, obs_radius, max_steps
        grid = instance.grid
        self.h, self.w = grid.shape
        self.padded = np.pad(grid, obs_radius, constant_values=True)
        if isinstance(instance, MAPFLifelongInstance):
            self.streams = instance.goal_streams
        elif on_target == "restart":
            rest = goal_streams(grid, instance.goals, max_steps, seed=0)
            self.streams = np.concatenate([instance.goals[:, None], rest], axis=1)
        else:
            self.streams = instance.goals[:, None]
        n = instance.num_agents
        self.pos = instance.starts.copy()
        self.k = np.zeros(n, dtype=np.int64)  # index of the active goal in each stream
        self.active = np.ones(n, dtype=bool)
        self.reached = np.zeros(n, dtype=np.int64)
        self.first_arrival = np.full(n, -1, dtype=np.int64)
        self.t = 0
        self.history = [self.pos.copy()]
        self._advance_goals()

    @property
    def goals(self) -> np.ndarray:
        """Current goal of each agent (agents, 2)."""
        k = np.minimum(self.k, self.streams.shape[1] - 1)
        return self.streams[np.arange(len(k)), k]

    def _advance_goals(self) -> np.ndarray:
        """Count agents standing on their goal; per mode remove them or hand out the next goal."""
        on = self.active & np.all(self.pos == self.goals, axis=1)
        if self.mode == "restart":
            on &= self.k < self.streams.shape[1]
            self.reached += on
            self.k += on
        elif self.mode == "finish":
            self.reached += on
            self.active &= ~on
        else:
            self.reached = np.maximum(self.reached, on.astype(np.int64))
        self.first_arrival[on & (self.first_arrival < 0)] = self.t
        return on

    def action_mask(self) -> np.ndarray:
        """(agents, 5) int8: 1 where the action keeps the agent on a free cell; inactive agents may only wait."""
        r = self.r
        targets = self.pos[:, None, :] + MOVES[None] + r
        mask = ~self.padded[targets[..., 0], targets[..., 1]]
        mask[~self.active, 1:] = False
        return mask.astype(np.int8)

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Apply joint ``actions`` (illegal or conflicting moves become waits); returns who reached a goal."""
        actions = np.asarray(actions, dtype=np.int64)
        legal = self.action_mask()[np.arange(len(actions)), actions].astype(bool)
        proposed = self.pos + MOVES[np.where(legal, actions, 0)]
        self.pos = resolve_moves(self.pos, proposed, self.active, self.w)
        self.t += 1
        self.history.append(self.pos.copy())
        return self._advance_goals()

    def observation(self) -> dict:
        """POGEMA-style local windows plus absolute positions and the action mask."""
        r, k = self.r, 2 * self.r + 1
        n = len(self.pos)
        windows = np.lib.stride_tricks.sliding_window_view  # k x k views, gathered per agent (no index grids)
        rows, cols = self.pos[:, 0], self.pos[:, 1]
        obs = np.zeros((n, 3, k, k), dtype=np.float32)
        obs[:, 0] = windows(self.padded, (k, k))[rows, cols]
        occupied = np.zeros_like(self.padded)
        act = self.pos[self.active]
        occupied[act[:, 0] + r, act[:, 1] + r] = True
        obs[:, 1] = windows(occupied, (k, k))[rows, cols]
        obs[self.active, 1, r, r] = 0.0  # the agent itself is not "another agent"
        rel = np.clip(self.goals - self.pos, -r, r) + r
        obs[np.arange(n), 2, rel[:, 0], rel[:, 1]] = 1.0
        obs[~self.active] = 0.0
        return {"obs": obs, "xy": self.pos.astype(np.int64), "target_xy": self.goals.astype(np.int64),
                "action_mask": self.action_mask()}

    def done(self) -> tuple[bool, bool]:
        """(terminated, truncated) of the episode."""
        if self.mode == "finish":
            terminated = not self.active.any()
        elif self.mode == "nothing":
            terminated = bool(np.all(self.pos == self.goals))
        else:
            terminated = False
        return terminated, (not terminated) and self.t >= self.max_steps

    def metrics(self) -> dict:
        """End-of-episode metrics (see the module docstring)."""
        n = len(self.pos)
        out = {"avg_throughput": float(self.reached.sum()) / max(self.t, 1)}
        if self.mode == "restart":
            if isinstance(self.instance, MAPFLifelongInstance) and self.t == self.instance.horizon:
                out["avg_throughput"] = evaluate_mapf_lifelong(self.instance, np.stack(self.history, axis=1))
            return out
        ok = self.first_arrival >= 0
        out["ISR"] = float(ok.mean()) if n else 1.0
        out["CSR"] = float(ok.all())
        if self.mode == "nothing" and np.all(self.pos == self.goals):
            m = mapf_metrics(self.instance, np.stack(self.history, axis=1))
            out["SoC"], out["makespan"] = m["soc"], m["makespan"]
        elif ok.all():
            out["SoC"], out["makespan"] = int(self.first_arrival.sum()), int(self.first_arrival.max(initial=0))
        return out


class MAPFEnv(gym.Env):
    """Joint-action MAPF env: one ``MultiDiscrete([5] * agents)`` action per step for all agents.

    Parameters
    ----------
    agents : number of agents (fixed: it sizes the spaces).
    on_target : ``"finish"``, ``"nothing"`` or ``"restart"`` (see the module docstring).
    obs_radius : half-width of each agent's square window (5 gives 11 x 11).
    max_episode_steps : truncation step (lifelong instances use their horizon).
    grid_kind, grid_options : map generator used when ``reset`` gets no instance ("random": POGEMA sizes
        17-21, density 0.1-0.3; "maze"; "warehouse").
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, agents: int = 8, on_target: str = "nothing", obs_radius: int = 5,
                 max_episode_steps: int = 256, grid_kind: str = "random", grid_options: dict | None = None,
                 render_mode: str | None = None) -> None:
        if on_target not in MODES:
            raise InvalidInstance(f"on_target: {on_target!r} is not one of {MODES}")
        self.num_agents, self.on_target, self.obs_radius = agents, on_target, obs_radius
        self.max_episode_steps, self.grid_kind = max_episode_steps, grid_kind
        self.grid_options = dict(grid_options or {})
        self.render_mode = render_mode
        k = 2 * obs_radius + 1
        big = np.iinfo(np.int32).max
        self.observation_space = spaces.Dict({
            "obs": spaces.Box(0.0, 1.0, (agents, 3, k, k), np.float32),
            "xy": spaces.Box(0, big, (agents, 2), np.int64),
            "target_xy": spaces.Box(0, big, (agents, 2), np.int64),
            "action_mask": spaces.Box(0, 1, (agents, 5), np.int8),
        })
        self.action_space = spaces.MultiDiscrete([5] * agents)
        self.core: MAPFCore | None = None

    def _instance(self, options: dict | None):
        inst = (options or {}).get("instance")
        if inst is None:
            seed = int(self.np_random.integers(2**31 - 1))
            if self.on_target == "restart":
                inst = generate_mapf_lifelong(self.grid_kind, self.num_agents, self.max_episode_steps, seed,
                                              **self.grid_options)
            else:
                inst = generate_mapf(self.grid_kind, self.num_agents, seed, **self.grid_options)
        if not isinstance(inst, (MAPFInstance, MAPFLifelongInstance)):
            raise InvalidInstance(f"options['instance']: expected a MAPF instance, got {type(inst).__name__}")
        if inst.num_agents != self.num_agents:
            raise InvalidInstance(f"options['instance']: has {inst.num_agents} agents, the env was made for "
                                  f"{self.num_agents}")
        return inst

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        inst = self._instance(options)
        steps = inst.horizon if isinstance(inst, MAPFLifelongInstance) else self.max_episode_steps
        self.core = MAPFCore(inst, self.on_target, self.obs_radius, steps)
        return self.core.observation(), {"instance": inst}

    def step(self, action):
        core = self.core
        arrived = core.step(action)
        if self.on_target == "restart":
            reward = float(arrived.sum())
        else:
            reward = -float(np.sum(core.active & ~np.all(core.pos == core.goals, axis=1)))
        terminated, truncated = core.done()
        info = {"arrived": arrived}
        if terminated or truncated:
            info["metrics"] = core.metrics()
            info["paths"] = np.stack(core.history, axis=1)
        return core.observation(), reward, terminated, truncated, info

    def render(self):
        """Text picture: ``#`` obstacle, ``A`` agent, ``.`` free."""
        if self.core is None:
            return ""
        pic = np.where(self.core.instance.grid, "#", ".")
        act = self.core.pos[self.core.active]
        pic[act[:, 0], act[:, 1]] = "A"
        return "\n".join("".join(row) for row in pic)
