"""Follower-style decentralized MAPF policy: every agent plans on its own congestion-aware cost map and a small
shared network over its local window chooses the move (in the spirit of "Learn to Follow", Skrynnik et al.,
AAAI 2024).

Per agent and timestep:

1. **Congestion map.** The agent keeps a heat map of where it has seen other agents (its window only, decayed
   by ``heat_decay`` each step); entering a cell costs ``1 + heat_cost * heat``.
2. **Planning.** A* from its goal to the agent on that cost map gives a least-cost path; its first
   ``path_len`` cells are the plan, the first one the next subgoal. With ``contraflow``, a move into a one-lane
   corridor against other agents' plans costs more (traffic-flow planning), so agents pick aisles that do not
   make them meet head-on.
3. **Local messages.** Agents in view share their next planned cell and their priority (steps since their last
   goal, PIBT's rule, ties broken by a fixed per-agent offset), so the network can tell who yields.
4. **Acting.** ``FollowerNet`` sees ``CHANNELS`` over the (2r+1)^2 window and picks one of the 5 actions
   (illegal ones masked). Trained by PPO with a small reward for stepping onto the next cell of the plan.
5. **Collision shield** (``FollowerConfig.shield``): instead of letting conflicting moves turn into waits,
   PIBT places the agents in priority order, each trying its sampled action first and then its other actions
   by probability, pushing lower-priority agents out of the way (CS-PIBT, Veerapaneni et al., ICAPS 2024).
6. **Joint planning** (``FollowerConfig.pbs_window``): ahead of the shield, a windowed PBS over all agents
   (``baselines/mapf_pbs.py``, as in RHCR) looks for collision-free space-time paths toward each plan's cell
   ``pbs_window`` steps ahead; when it finds them, their first moves replace the network's, so the network
   decides only the steps where PBS gives up (dense crowds). This uses every agent's position, like the shield.

The simulator is the env's ``MAPFCore`` (POGEMA conventions; conflicting moves become waits), so paths are
valid by construction and scored by ``evaluate``. Checkpoints: state_dict + JSON config + ncosolve version,
loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import heapq
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numba
import numpy as np
import torch
from torch import nn

import ncosolve.errors
from ncosolve.baselines.mapf_pbs import pbs_window, workspace
from ncosolve.baselines.mapf_pibt import pibt_config
from ncosolve.envs.mapf import MAPFCore
from ncosolve.policies.checkpoint import load_weights, read_checkpoint, read_config, write_checkpoint
from ncosolve.problems.mapf import MOVES, neighbor_table
from ncosolve.problems.mapf_kernels import bfs_many

FORMAT = "ncosolve-mapf-follower/1"
SHIPPED_DIR = Path(ncosolve.errors.__file__).resolve().parent / "data" / "checkpoints" / "mapf"
SHIPPED = SHIPPED_DIR / "follower.pt"
ROW_CACHE_BYTES = 64 << 20  # memory for the distance rows kept between steps (PBS targets)
CHANNELS = ("obstacles", "other agents", "own plan", "own goal", "other agents' goals",
            "other agents' next planned cells", "agents with higher priority")


@dataclass
class FollowerConfig:
    """Architecture and planner settings; stored in the checkpoint so a loaded policy plans as it trained."""

    obs_radius: int = 5
    """half-width of the window (5: 11 x 11, POGEMA's default)"""
    conv_channels: int = 16
    """channels of the first 3x3 convolution (the strided second one has twice as many)"""
    hidden: int = 128
    """width of the MLP after the convolutions"""
    path_len: int = 12
    """cells of the plan drawn into the window"""
    heat_decay: float = 0.8
    """per-step decay of the seen-agents heat map"""
    heat_cost: float = 2.0
    """extra cost of entering a cell per unit of heat"""
    shield: bool = False
    """resolve each step's moves by PIBT over the agents' action preferences (CS-PIBT) instead of waits"""
    contraflow: float = 0.0
    """extra cost of entering a corridor cell (at most 2 free neighbours) per other agent whose plan leaves it the
    opposite way: plans avoid head-on meetings in one-lane aisles (traffic-flow planning; 0: off)"""
    pbs_window: int = 0
    """joint planning ahead of the shield: each step, windowed PBS over all agents' next ``pbs_window`` steps
    toward the ``pbs_window``-th cell of their plans (at most ``path_len``); when it finds collision-free paths,
    their first moves replace the network's (RHCR-style rolling horizon; 0: off, as in training, where the moves
    must be the network's own)"""
    pbs_nodes: int = 64
    """PBS nodes expanded per step before the network's moves are kept instead"""
    pbs_patience: float = 16.0
    """an agent that has gone this many steps longer without reaching a goal than another must yield to it in
    PBS; where that leaves no collision-free window, the step goes to the network and the shield, whose PIBT
    lets the long-waiting agent go first (windows alone can keep an agent waiting for ever, as in mazes)"""
    training: dict = field(default_factory=dict)
    """budget and hardware of the run that produced the weights (informational)"""

    def net_dict(self) -> dict:
        """The fields that shape the network and planner (everything but ``training``)."""
        return {k: v for k, v in asdict(self).items() if k != "training"}


class FollowerNet(nn.Module):
    """Shared actor-critic over one agent's window: a 3x3 conv, a strided 3x3 conv, an MLP, 5 logits and a value."""

    def __init__(self, cfg: FollowerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        k, c = 2 * cfg.obs_radius + 1, cfg.conv_channels
        self.body = nn.Sequential(
            nn.Conv2d(len(CHANNELS), c, 3, padding=1), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * c * ((k + 1) // 2) ** 2, cfg.hidden), nn.ReLU())
        self.actor = nn.Linear(cfg.hidden, len(MOVES))
        self.critic = nn.Linear(cfg.hidden, 1)

    def forward(self, obs: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked logits (B, 5), values (B,)) for windows (B, C, k, k) and legal-action masks (B, 5)."""
        h = self.body(obs)
        logits = self.actor(h).masked_fill(~mask, -1e9)
        return logits, self.critic(h).squeeze(-1)


# ---------------------------------------------------------------------------------------------- planning
REVERSE = np.array([0, 2, 1, 4, 3], dtype=np.int64)
"""the move opposite to each of ``MOVES`` (wait, up, down, left, right)"""


@numba.njit(cache=True)
def _add_flow(nbr: np.ndarray, corridor: np.ndarray, cell: int, path: np.ndarray, against: np.ndarray,
              weight: float) -> None:
    """Add ``weight`` to ``against[u, k]`` for every move ``u -> nbr[u, k]`` of the route ``cell, path...`` that
    leaves a corridor cell ``u`` (the opposite move, into ``u``, is what it makes dearer)."""
    u = cell
    for x in range(len(path)):
        v = path[x]
        if v < 0:
            break
        if v != u and corridor[u]:
            for k in range(1, 5):
                if nbr[u, k] == v:
                    against[u, k] += weight
        u = v


@numba.njit(cache=True)
def plan_paths(nbr: np.ndarray, cost: np.ndarray, pos: np.ndarray, goals: np.ndarray, paths: np.ndarray,
               corridor: np.ndarray, contraflow: float) -> None:
    """Per agent, a search from ``goals[a]`` over entering costs ``cost[a]`` (agents, cells, each >= 1) until it
    settles ``pos[a]`` (A*: the unit-step distance from ``pos[a]`` is a consistent heuristic); overwrites
    ``paths[a]`` (the agent's last plan) with the first ``paths.shape[1]`` cells of the least-cost path from
    ``pos[a]`` (-1 padded).

    With ``contraflow`` > 0, entering a ``corridor`` cell also costs ``contraflow`` per other agent whose plan
    leaves that cell the opposite way. Agents plan in turn, each against the others' newest plans (the last
    step's for those not yet replanned), so two agents facing each other in an aisle do not both switch to the
    same detour."""
    ncell = nbr.shape[0]
    dist = np.empty(ncell, dtype=np.float64)
    done = np.zeros(ncell, dtype=np.bool_)
    h = np.empty(ncell, dtype=np.float64)
    queue = np.empty(ncell, dtype=np.int64)
    against = np.zeros((ncell, 5), dtype=np.float64)
    if contraflow > 0:
        for a in range(len(pos)):
            _add_flow(nbr, corridor, pos[a], paths[a], against, contraflow)
    for a in range(len(pos)):
        if contraflow > 0:
            _add_flow(nbr, corridor, pos[a], paths[a], against, -contraflow)
        dist[:] = np.inf
        done[:] = False
        paths[a, :] = -1
        s, g = np.int64(pos[a]), np.int64(goals[a])
        h[:] = -1.0  # breadth-first distances from the agent
        h[s] = 0.0
        queue[0] = s
        head, tail = 0, 1
        while head < tail:
            u = queue[head]
            head += 1
            for k in range(1, 5):
                v = np.int64(nbr[u, k])
                if v >= 0 and h[v] < 0:
                    h[v] = h[u] + 1.0
                    queue[tail] = v
                    tail += 1
        if h[g] < 0:
            continue
        dist[g] = 0.0
        heap = [(h[g], g)]
        while heap:
            f, v = heapq.heappop(heap)
            if done[v]:
                continue
            done[v] = True
            if v == s:
                break
            for k in range(1, 5):
                u = np.int64(nbr[v, k])
                nd = dist[v] + cost[a, v] + against[v, k]
                if u >= 0 and not done[u] and nd < dist[u]:
                    dist[u] = nd
                    heapq.heappush(heap, (nd + h[u], u))
        u = s
        for step in range(paths.shape[1]):
            if u == g or not done[s]:
                break
            best, best_d = -1, np.inf
            for k in range(1, 5):
                v = np.int64(nbr[u, k])
                if v < 0 or not done[v]:
                    continue
                d = dist[v] + cost[a, v] + against[v, REVERSE[k]]
                if d < best_d - 1e-9:
                    best, best_d = v, d
            if best < 0:
                break
            paths[a, step] = best
            u = best
        if contraflow > 0:
            _add_flow(nbr, corridor, pos[a], paths[a], against, contraflow)


class Follower:
    """Decentralized control of one episode: per-agent heat maps and plans over a ``MAPFCore``.

    ``observe()`` gives the network input for every agent; ``step(actions)`` moves them and returns the
    per-agent reward (``path_reward`` for stepping onto the planned next cell, ``goal_reward`` for a goal).
    """

    def __init__(self, core: MAPFCore, cfg: FollowerConfig, path_reward: float = 0.1,
                 goal_reward: float = 1.0) -> None:
        self.core, self.cfg = core, cfg
        self.path_reward, self.goal_reward = path_reward, goal_reward
        r = cfg.obs_radius
        h, w = core.h, core.w
        self.nbr = neighbor_table(core.instance.grid)
        n = len(core.pos)
        self.heat = np.zeros((n, h + 2 * r, w + 2 * r), dtype=np.float32)
        self.paths = np.full((n, cfg.path_len), -1, dtype=np.int64)
        self.next_cell = np.zeros(n, dtype=np.int64)
        self.waiting = np.zeros(n, dtype=np.float64)  # steps since the last goal
        self.tie_break = (np.arange(n) * 0.6180339887) % 1.0
        self._dist_goal = np.full(n, -1, dtype=np.int64)  # goal cell of each row of _dist
        self._dist: np.ndarray | None = None  # (agents, cells) distances to goals, made on first use
        self._occ = np.full((2, len(self.nbr)), -1, dtype=np.int64)
        self._corridor = (self.nbr[:, 1:] >= 0).sum(axis=1) <= 2
        if not 0 <= cfg.pbs_window <= cfg.path_len:
            raise ValueError(f"pbs_window must be 0 (off) to path_len ({cfg.path_len}), got {cfg.pbs_window}")
        if cfg.pbs_patience <= 0:
            raise ValueError(f"pbs_patience must be positive, got {cfg.pbs_patience}")
        self._pbs_ws = workspace(len(self.nbr), cfg.pbs_window, n, cfg.pbs_nodes) if cfg.pbs_window else None
        self._pbs_wait = self._pbs_backoff = 0  # steps to skip PBS after failures (it rarely succeeds when dense)
        self._rows: dict[int, np.ndarray] = {}  # distance table from each recent PBS target cell

    @property
    def num_agents(self) -> int:
        """Agents controlled."""
        return len(self.core.pos)

    def observe(self) -> tuple[np.ndarray, np.ndarray]:
        """Update heat maps and plans; (windows (agents, C, k, k) float32, legal actions (agents, 5) bool)."""
        core, cfg = self.core, self.cfg
        r, k, w = cfg.obs_radius, 2 * cfg.obs_radius + 1, core.w
        pos, goals = core.pos, core.goals
        n = len(pos)
        offs = np.arange(k)
        rows = pos[:, 0, None, None] + offs[None, :, None]  # padded coordinates of each window
        cols = pos[:, 1, None, None] + offs[None, None, :]
        obs = np.zeros((n, len(CHANNELS), k, k), dtype=np.float32)
        obs[:, 0] = core.padded[rows, cols]
        occupied = np.zeros(core.padded.shape, dtype=np.float32)
        occupied[pos[:, 0] + r, pos[:, 1] + r] = 1.0
        obs[:, 1] = occupied[rows, cols]
        obs[:, 1, r, r] = 0.0
        # congestion map from what each agent sees, then plans on it
        agent = np.arange(n)[:, None, None]
        self.heat *= cfg.heat_decay
        self.heat[agent, rows, cols] += obs[:, 1]
        cost = 1.0 + cfg.heat_cost * self.heat[:, r:r + core.h, r:r + core.w].reshape(n, -1)
        cell, goal_cell = pos[:, 0] * w + pos[:, 1], goals[:, 0] * w + goals[:, 1]
        plan_paths(self.nbr, cost.astype(np.float64), cell, goal_cell, self.paths, self._corridor,
                   float(cfg.contraflow))
        self.next_cell = np.where(self.paths[:, 0] >= 0, self.paths[:, 0], cell)
        valid = self.paths >= 0
        pr, pc = np.divmod(np.where(valid, self.paths, 0), w)
        rr, cc = pr - pos[:, 0, None] + r, pc - pos[:, 1, None] + r
        inside = valid & (rr >= 0) & (rr < k) & (cc >= 0) & (cc < k)
        a_idx = np.broadcast_to(np.arange(n)[:, None], inside.shape)
        obs[a_idx[inside], 2, rr[inside], cc[inside]] = 1.0
        rel = np.clip(goals - pos, -r, r) + r
        obs[np.arange(n), 3, rel[:, 0], rel[:, 1]] = 1.0
        own = np.all(np.abs(goals - pos) <= r, axis=1)
        obs[:, 4] = self._others(goals, rows, cols, own, rel)
        nxt = np.stack(np.divmod(self.next_cell, w), axis=1)
        obs[:, 5] = self._others(nxt, rows, cols, np.ones(n, dtype=bool), nxt - pos + r)
        prio = self.waiting + self.tie_break
        prio_grid = np.full(core.padded.shape, -1.0)
        prio_grid[pos[:, 0] + r, pos[:, 1] + r] = prio
        obs[:, 6] = prio_grid[rows, cols] > prio[:, None, None]
        return obs, core.action_mask().astype(bool)

    def _others(self, cells: np.ndarray, rows: np.ndarray, cols: np.ndarray, own: np.ndarray,
                own_rel: np.ndarray) -> np.ndarray:
        """(agents, k, k) 0/1: where the window holds a cell of ``cells`` (agents, 2) of another agent; ``own``
        says whose own cell lies in its window, at ``own_rel``."""
        r = self.cfg.obs_radius
        count = np.zeros(self.core.padded.shape, dtype=np.float32)
        np.add.at(count, (cells[:, 0] + r, cells[:, 1] + r), 1.0)
        win = count[rows, cols]
        win[own, own_rel[own, 0], own_rel[own, 1]] -= 1.0
        return np.minimum(win, 1.0)

    def plan_actions(self) -> np.ndarray:
        """The action that follows each agent's plan (after ``observe``): its move to the next planned cell."""
        return self._actions_to(self.next_cell)

    def _actions_to(self, cells: np.ndarray) -> np.ndarray:
        """The action taking each agent to ``cells`` (its own cell or a free neighbour's id)."""
        core = self.core
        return np.argmax(self.nbr[core.pos[:, 0] * core.w + core.pos[:, 1]] == cells[:, None], axis=1)

    def joint_plan(self, actions: np.ndarray, cell: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """With ``pbs_window``: the first moves of collision-free windowed PBS paths from the agents' ``cell`` ids
        toward the plans' cells ``pbs_window`` ahead (or their ``goal`` cells), if PBS finds them within
        ``pbs_nodes`` (agents that have waited ``pbs_patience`` steps longer than others yielding to them); else
        ``actions``. After a failure PBS rests for 1, 2, 4 ... 64 steps, so crowds where it cannot succeed pay
        little for it."""
        cfg, core = self.cfg, self.core
        if not cfg.pbs_window:
            return actions
        if self._pbs_wait > 0:
            self._pbs_wait -= 1
            return actions
        n = len(actions)
        steps = (self.paths >= 0).sum(axis=1)
        ahead = self.paths[np.arange(n), np.clip(np.minimum(steps, cfg.pbs_window) - 1, 0, None)]
        target = np.where(steps > 0, ahead, goal)
        h = self._distances_from(target)
        paths, solved = pbs_window(self.nbr, cell.astype(np.int64), goal.astype(np.int64), h,
                                   self._goal_distances(goal), cfg.pbs_window, cfg.pbs_nodes,
                                   core.mode == "nothing", self._pbs_ws,
                                   self.waiting[:, None] >= self.waiting[None, :] + cfg.pbs_patience)
        if not solved:
            self._pbs_backoff = min(2 * self._pbs_backoff or 1, 64)
            self._pbs_wait = self._pbs_backoff
            return actions
        self._pbs_backoff = 0
        return self._actions_to(np.where(paths[:, 1] >= 0, paths[:, 1], cell))

    def _distances_from(self, cells: np.ndarray) -> np.ndarray:
        """(len(cells), map cells) BFS distances from each of ``cells`` (-1: unreachable). Rows are kept, up to
        ``ROW_CACHE_BYTES``, because a plan's cell ``pbs_window`` steps ahead moves one cell a step along it."""
        missing = np.unique(cells[[c not in self._rows for c in cells.tolist()]])
        if len(missing):
            if (len(self._rows) + len(missing)) * 4 * len(self.nbr) > ROW_CACHE_BYTES:
                self._rows.clear()
            for c, row in zip(missing.tolist(), bfs_many(self.nbr, missing.astype(np.int32))):
                self._rows[c] = row
        return np.stack([self._rows[c] for c in cells.tolist()])

    def _goal_distances(self, goal: np.ndarray) -> np.ndarray:
        """(agents, cells) distances to each agent's goal cell (-1: unreachable), for PIBT's corridor-swap test
        and PBS's search band; a row is recomputed only when its goal changes."""
        if self._dist is None:
            self._dist = np.zeros((len(goal), len(self.nbr)), dtype=np.int32)
        stale = goal != self._dist_goal
        if stale.any():
            self._dist[stale] = bfs_many(self.nbr, goal[stale].astype(np.int32))
            self._dist_goal[stale] = goal[stale]
        return self._dist

    def shield(self, actions: np.ndarray, probs: np.ndarray | None = None) -> np.ndarray:
        """Conflict-free actions from sampled ``actions`` and the policy's ``probs`` (agents, 5): PIBT in priority
        order (steps since the last goal), each agent trying its sampled action (or the ``joint_plan`` move),
        then the rest by probability (without ``probs``: in action order, wait first)."""
        core = self.core
        n, w = len(actions), core.w
        cell = core.pos[:, 0] * w + core.pos[:, 1]
        goal = core.goals[:, 0] * w + core.goals[:, 1]
        actions = self.joint_plan(actions, cell, goal)
        dist = self._goal_distances(goal)
        key = np.zeros((n, 5)) if probs is None else probs.astype(np.float64)
        key[np.arange(n), actions] = 2.0
        pref = np.argsort(-key, axis=1, kind="stable").astype(np.int64)
        order = np.argsort(-(self.waiting + self.tie_break), kind="stable")
        empty = np.empty(0, dtype=np.int64)
        q_to = pibt_config(self.nbr, dist, goal.astype(np.int64), cell.astype(np.int64), order, empty, empty,
                           self._occ[0], self._occ[1], pref)
        return self._actions_to(q_to)

    def step(self, actions: np.ndarray, probs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Apply joint actions (through ``shield`` with the policy's ``probs`` when the config asks for it);
        (per-agent rewards, who reached a goal)."""
        core = self.core
        if self.cfg.shield:
            actions = self.shield(actions, probs)
        arrived = core.step(actions)
        on_plan = (core.pos[:, 0] * core.w + core.pos[:, 1]) == self.next_cell
        moved = np.any(core.history[-1] != core.history[-2], axis=1)
        reward = self.path_reward * (on_plan & moved) + self.goal_reward * arrived
        self.waiting = np.where(arrived, 0.0, self.waiting + 1.0)
        return reward.astype(np.float32), arrived


# ---------------------------------------------------------------------------------------------- checkpoints

def save_follower(net: FollowerNet, path) -> Path:
    """Write ``net`` with its config (including the training budget) as JSON and the ncosolve version."""
    return write_checkpoint(path, FORMAT, asdict(net.cfg), net.state_dict())


def load_follower(path=None) -> tuple[FollowerNet, dict]:
    """The network stored at ``path`` (default: the shipped checkpoint) in eval mode, and its meta.

    Raises CheckpointError for a missing, corrupt or unsafe file, or one that is not a Follower checkpoint."""
    path = Path(SHIPPED if path is None else path)
    meta, state = read_checkpoint(path, FORMAT, "a MAPF Follower policy")
    cfg = read_config(FollowerConfig, meta, path)
    return load_weights(FollowerNet(cfg), state, path), meta


def act(net: FollowerNet, obs: np.ndarray, mask: np.ndarray, generator: torch.Generator | None = None,
        greedy: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(actions, action probabilities) for a batch of agents: actions sampled with ``generator``, or the argmax."""
    with torch.inference_mode():
        probs = torch.softmax(net(torch.from_numpy(obs), torch.from_numpy(mask))[0], dim=1)
    if greedy:
        return probs.argmax(dim=1).numpy(), probs.numpy()
    return torch.multinomial(probs, 1, generator=generator).squeeze(1).numpy(), probs.numpy()
