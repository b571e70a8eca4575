"""Grid MAPF as a PettingZoo ``ParallelEnv``: the same simulator as ``ncosolve/MAPF-v0`` (``MAPFCore``), with
dicts keyed by agent name ("agent_0", ...). In ``"finish"`` mode an agent that reaches its goal terminates and
leaves ``agents``; in the other modes all agents run until the episode ends. Rewards per agent: POGEMA's
1.0 on reaching a goal (every goal of the stream in ``"restart"`` mode, the first arrival otherwise), else 0.
"""

from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from ncosolve.envs.mapf import MODES, MAPFCore, MAPFEnv
from ncosolve.errors import InvalidInstance


class MAPFParallelEnv(ParallelEnv):
    """PettingZoo parallel MAPF; constructor arguments as ``MAPFEnv`` (agents, on_target, obs_radius,
    max_episode_steps, grid_kind, grid_options). ``reset(options={"instance": inst})`` plays a given instance."""

    metadata = {"render_modes": ["ansi"], "name": "ncosolve_mapf_v0"}

    def __init__(self, agents: int = 8, on_target: str = "finish", obs_radius: int = 5,
                 max_episode_steps: int = 256, grid_kind: str = "random", grid_options: dict | None = None,
                 render_mode: str | None = None) -> None:
        if on_target not in MODES:
            raise InvalidInstance(f"on_target: {on_target!r} is not one of {MODES}")
        self._joint = MAPFEnv(agents, on_target, obs_radius, max_episode_steps, grid_kind, grid_options)
        self.possible_agents = [f"agent_{i}" for i in range(agents)]
        self.agents: list[str] = []
        self.render_mode = render_mode
        k = 2 * obs_radius + 1
        big = np.iinfo(np.int32).max
        self._obs_space = spaces.Dict({
            "obs": spaces.Box(0.0, 1.0, (3, k, k), np.float32),
            "xy": spaces.Box(0, big, (2,), np.int64),
            "target_xy": spaces.Box(0, big, (2,), np.int64),
            "action_mask": spaces.Box(0, 1, (5,), np.int8),
        })
        self._act_space = spaces.Discrete(5)
        self.core: MAPFCore | None = None

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent):
        return self._obs_space

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent):
        return self._act_space

    def _split(self, joint: dict) -> dict:
        return {a: {key: joint[key][i] for key in joint} for i, a in enumerate(self.possible_agents)
                if a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        joint, info = self._joint.reset(seed=seed, options=options)
        self.core = self._joint.core
        self.agents = list(self.possible_agents)
        return self._split(joint), {a: {} for a in self.agents}

    def step(self, actions: dict):
        core = self.core
        joint_action = np.zeros(len(self.possible_agents), dtype=np.int64)
        for i, a in enumerate(self.possible_agents):
            if a in actions:
                joint_action[i] = actions[a]
        first_before = core.first_arrival.copy()
        arrived = core.step(joint_action)
        if core.mode == "restart":
            gained = arrived
        else:
            gained = (first_before < 0) & (core.first_arrival >= 0)
        terminated, truncated = core.done()
        joint = core.observation()
        live = self.agents
        obs = self._split(joint)
        rewards = {a: float(gained[i]) for i, a in enumerate(self.possible_agents) if a in live}
        if core.mode == "finish":
            terms = {a: bool(not core.active[i]) for i, a in enumerate(self.possible_agents) if a in live}
        else:
            terms = {a: terminated for a in live}
        truncs = {a: truncated and not terms[a] for a in live}
        infos = {a: {} for a in live}
        if terminated or truncated:
            metrics = core.metrics()
            infos = {a: {"metrics": metrics} for a in live}
        self.agents = [a for a in live if not (terms[a] or truncs[a])]
        return obs, rewards, terms, truncs, infos

    def render(self):
        """Text picture of the grid (see ``MAPFEnv.render``)."""
        return self._joint.render()

    def state(self) -> np.ndarray:
        """Global state: (3, H, W) obstacles, agents, goals of active agents."""
        core = self.core
        grid = core.instance.grid
        out = np.zeros((3, *grid.shape), dtype=np.float32)
        out[0] = grid
        act = core.pos[core.active]
        out[1, act[:, 0], act[:, 1]] = 1.0
        g = core.goals[core.active]
        out[2, g[:, 0], g[:, 1]] = 1.0
        return out
