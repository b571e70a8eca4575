"""Multi-agent path finding on 4-connected grids: one-shot (``MAPFInstance``) and lifelong
(``MAPFLifelongInstance``) instances, their validation, and the one place their objectives are computed.

Conventions
-----------
* ``grid`` is a bool array (H, W), True = obstacle; positions are (row, col).
* A solution is an int array (agents, T+1, 2) of positions per timestep; each step an agent waits or moves to
  one of its 4 neighbours. Two agents may not share a cell at a timestep (vertex conflict) nor traverse the
  same edge in opposite directions between two timesteps (swap conflict).
* One-shot cost (``evaluate_mapf``): sum of costs (SoC). An agent's cost is the first timestep from which it
  stays at its goal until T; every agent must be at its goal at T. An agent that starts at its goal and never
  leaves costs 0. ``mapf_metrics`` adds makespan (the largest agent cost) and per-agent costs.
* Lifelong value (``evaluate_mapf_lifelong``): throughput, goals reached per timestep over the horizon. Each
  agent has a stream of goals; reaching the active goal (being on it at some timestep) activates the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ncosolve.problems._validate import whole_number
from ncosolve.errors import InfeasibleSolution, InvalidInstance

# Moves in POGEMA's action order: 0 wait, 1 up, 2 down, 3 left, 4 right, as (d_row, d_col).
MOVES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int64)


def _pt(pos) -> tuple[int, ...]:
    """A position as a plain tuple of ints, for messages."""
    return tuple(int(x) for x in pos)


def _grid(value) -> np.ndarray:
    try:
        grid = np.array(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInstance(f"grid: not an array ({exc})") from None
    if grid.ndim != 2 or grid.shape[0] < 1 or grid.shape[1] < 1:
        raise InvalidInstance(f"grid: expected a 2-D (H, W) array, got shape {grid.shape}")
    if grid.dtype != bool:
        if grid.dtype.kind not in "iuf" or not np.all((grid == 0) | (grid == 1)):
            raise InvalidInstance("grid: must be boolean (True = obstacle) or 0/1")
        grid = grid.astype(bool)
    grid.setflags(write=False)
    return grid


def _positions(value, field: str, shape_prefix: tuple, grid: np.ndarray) -> np.ndarray:
    """A read-only int64 array (*shape_prefix, 2) of in-grid free cells."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInstance(f"{field}: not numeric ({exc})") from None
    if arr.size == 0:
        arr = arr.reshape(*[0 if s is None else s for s in shape_prefix], 2)
    if arr.ndim != len(shape_prefix) + 1 or arr.shape[-1] != 2 or any(
            s is not None and s != a for s, a in zip(shape_prefix, arr.shape)):
        raise InvalidInstance(f"{field}: expected shape ({', '.join('n' if s is None else str(s) for s in shape_prefix)}"
                              f", 2) of (row, col), got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise InvalidInstance(f"{field}: positions must be whole numbers")
    pos = arr.astype(np.int64)
    h, w = grid.shape
    outside = (pos[..., 0] < 0) | (pos[..., 0] >= h) | (pos[..., 1] < 0) | (pos[..., 1] >= w)
    if np.any(outside):
        idx = np.argwhere(outside)[0]
        raise InvalidInstance(f"{field}: agent {idx[0]} position {_pt(pos[tuple(idx)])} is outside the "
                              f"{h}x{w} grid")
    blocked = grid[pos[..., 0], pos[..., 1]]
    if np.any(blocked):
        idx = np.argwhere(blocked)[0]
        raise InvalidInstance(f"{field}: agent {idx[0]} position {_pt(pos[tuple(idx)])} is on an obstacle")
    pos.setflags(write=False)
    return pos


def _check_distinct(pos: np.ndarray, field: str, width: int) -> None:
    ids = pos[:, 0] * width + pos[:, 1]
    uniq, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if np.any(counts > 1):
        cell = uniq[np.argmax(counts > 1)]
        agents = np.flatnonzero(ids == cell)
        raise InvalidInstance(f"{field}: agents {int(agents[0])} and {int(agents[1])} share cell "
                              f"{_pt(pos[agents[0]])}")


def components(grid: np.ndarray) -> np.ndarray:
    """Label (H, W) of 4-connected free components (0 on obstacles, 1.. on free cells)."""
    from scipy import ndimage  # imported here: it is a third of the import time of ncosolve

    labels, _ = ndimage.label(~np.asarray(grid, dtype=bool))
    return labels


def _check_reachable(grid: np.ndarray, starts: np.ndarray, goals: np.ndarray) -> None:
    """Every goal (or goal stream entry) must lie in its agent's start component."""
    labels = components(grid)
    start_lab = labels[starts[:, 0], starts[:, 1]]
    goal_lab = labels[goals[..., 0], goals[..., 1]]
    if goal_lab.ndim == 2:
        bad = np.any(goal_lab != start_lab[:, None], axis=1)
    else:
        bad = goal_lab != start_lab
    if np.any(bad):
        agent = int(np.flatnonzero(bad)[0])
        raise InvalidInstance(f"goals: agent {agent} cannot reach its goal from start "
                              f"{_pt(starts[agent])} (different connected components)")


@dataclass(frozen=True, eq=False)
class MAPFInstance:
    """One-shot MAPF: every agent goes from ``starts[i]`` to ``goals[i]`` on ``grid`` (True = obstacle).

    Raises InvalidInstance for positions outside the grid or on obstacles, duplicate starts or goals, and goals
    an agent cannot reach, naming the agent.
    """

    grid: np.ndarray
    starts: np.ndarray
    goals: np.ndarray
    name: str | None = None

    problem = "mapf"

    def __post_init__(self) -> None:
        grid = _grid(self.grid)
        starts = _positions(self.starts, "starts", (None,), grid)
        goals = _positions(self.goals, "goals", (len(starts),), grid)
        _check_distinct(starts, "starts", grid.shape[1])
        _check_distinct(goals, "goals", grid.shape[1])
        _check_reachable(grid, starts, goals)
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "goals", goals)

    @property
    def num_agents(self) -> int:
        """Number of agents."""
        return len(self.starts)

    def __repr__(self) -> str:
        return f"MAPFInstance(name={self.name!r}, grid={self.grid.shape[0]}x{self.grid.shape[1]}, agents={self.num_agents})"


@dataclass(frozen=True, eq=False)
class MAPFLifelongInstance:
    """Lifelong MAPF: agent i starts at ``starts[i]`` and visits ``goal_streams[i, 0], [i, 1], ...`` in turn
    during ``horizon`` timesteps; the value is throughput (goals reached per timestep).

    Consecutive goals of a stream must differ; every goal must be reachable from the agent's start.
    """

    grid: np.ndarray
    starts: np.ndarray
    goal_streams: np.ndarray
    horizon: int
    name: str | None = None

    problem = "mapf-lifelong"

    def __post_init__(self) -> None:
        grid = _grid(self.grid)
        starts = _positions(self.starts, "starts", (None,), grid)
        streams = _positions(self.goal_streams, "goal_streams", (len(starts), None), grid)
        if streams.shape[1] < 1 and len(starts):
            raise InvalidInstance("goal_streams: every agent needs at least one goal")
        _check_distinct(starts, "starts", grid.shape[1])
        same = np.all(streams[:, 1:] == streams[:, :-1], axis=2)
        if np.any(same):
            agent, k = np.argwhere(same)[0]
            raise InvalidInstance(f"goal_streams: agent {agent} has the same goal twice in a row (entries {k}, {k + 1})")
        _check_reachable(grid, starts, streams)
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "goal_streams", streams)
        object.__setattr__(self, "horizon", whole_number(self.horizon, "horizon", 1))

    @property
    def num_agents(self) -> int:
        """Number of agents."""
        return len(self.starts)

    @property
    def goals(self) -> np.ndarray:
        """The first goal of each agent (agents, 2)."""
        return self.goal_streams[:, 0]

    def __repr__(self) -> str:
        return (f"MAPFLifelongInstance(name={self.name!r}, grid={self.grid.shape[0]}x{self.grid.shape[1]}, "
                f"agents={self.num_agents}, horizon={self.horizon})")


# ---------------------------------------------------------------------------------------------- grid graph
def neighbor_table(grid: np.ndarray) -> np.ndarray:
    """(H*W, 5) int32 cell ids reached by actions 0-4 (wait, up, down, left, right); -1 where blocked."""
    h, w = grid.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    nr = rows[:, None] + MOVES[None, :, 0]
    nc = cols[:, None] + MOVES[None, :, 1]
    inside = (nr >= 0) & (nr < h) & (nc >= 0) & (nc < w)
    ids = np.where(inside, nr * w + nc, 0)
    ok = inside & ~grid.reshape(-1)[ids] & ~grid.reshape(-1)[:, None]
    return np.where(ok, ids, -1).astype(np.int32)


def distance_maps(grid: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """(len(cells), H*W) int32 4-connected shortest-path lengths from each (row, col) in ``cells``; -1 if unreachable.

    Distances are symmetric on grids, so the maps from the goals serve as exact A*/PIBT heuristics.
    """
    cells = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
    from ncosolve.problems.mapf_kernels import bfs_many

    return bfs_many(neighbor_table(grid), (cells[:, 0] * grid.shape[1] + cells[:, 1]).astype(np.int32))


def to_ids(pos: np.ndarray, width: int) -> np.ndarray:
    """Cell ids ``row * width + col`` of (..., 2) positions."""
    pos = np.asarray(pos)
    return pos[..., 0] * width + pos[..., 1]


def to_positions(ids: np.ndarray, width: int) -> np.ndarray:
    """(..., 2) int64 positions of cell ids."""
    ids = np.asarray(ids, dtype=np.int64)
    return np.stack(np.divmod(ids, width), axis=-1)


# ---------------------------------------------------------------------------------------------- checking
def _paths_array(instance, paths) -> np.ndarray:
    try:
        arr = np.asarray(paths)
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
    except (TypeError, ValueError):
        raise InfeasibleSolution("paths: not an array of positions (ragged paths must be padded to one length)") from None
    n = instance.num_agents
    if arr.ndim != 3 or arr.shape[0] != n or arr.shape[2] != 2 or arr.shape[1] < 1 or arr.dtype.kind not in "iu":
        raise InfeasibleSolution(f"paths: expected an integer array ({n}, T+1, 2) of (row, col), got "
                                 f"{arr.dtype} {arr.shape}")
    return arr.astype(np.int64)


def check_paths(instance, paths) -> np.ndarray:
    """The paths as (agents, T+1, 2) int64 after checking starts, grid bounds, obstacles, moves and conflicts.

    Raises InfeasibleSolution naming the agent(s) and the timestep of the first violation.
    """
    arr = _paths_array(instance, paths)
    grid = instance.grid
    h, w = grid.shape
    n, t1 = arr.shape[0], arr.shape[1]
    if n == 0:
        return arr
    wrong = np.any(arr[:, 0] != instance.starts, axis=1)
    if np.any(wrong):
        a = int(np.argmax(wrong))
        raise InfeasibleSolution(f"agent {a} starts at {_pt(arr[a, 0])}, not at its start {_pt(instance.starts[a])}")
    outside = (arr[..., 0] < 0) | (arr[..., 0] >= h) | (arr[..., 1] < 0) | (arr[..., 1] >= w)
    if np.any(outside):
        a, t = np.argwhere(outside)[0]
        raise InfeasibleSolution(f"agent {a} leaves the grid at t={t}: {_pt(arr[a, t])}")
    blocked = grid[arr[..., 0], arr[..., 1]]
    if np.any(blocked):
        a, t = np.argwhere(blocked)[0]
        raise InfeasibleSolution(f"agent {a} is on an obstacle at t={t}: {_pt(arr[a, t])}")
    step = np.abs(np.diff(arr, axis=1)).sum(axis=2)
    if np.any(step > 1):
        a, t = np.argwhere(step > 1)[0]
        raise InfeasibleSolution(f"agent {a} makes an illegal move from {_pt(arr[a, t])} to {_pt(arr[a, t + 1])} "
                                 f"between t={t} and t={t + 1}")
    ids = to_ids(arr, w)  # (n, T+1)
    order = np.argsort(ids, axis=0, kind="stable")
    sorted_ids = np.take_along_axis(ids, order, axis=0)
    dup = sorted_ids[1:] == sorted_ids[:-1]  # (n-1, T+1)
    if np.any(dup):
        t = int(np.argmax(dup.any(axis=0)))
        k = int(np.argmax(dup[:, t]))
        i, j = sorted(int(x) for x in (order[k, t], order[k + 1, t]))
        raise InfeasibleSolution(f"vertex conflict of agents {i} and {j} at t={t} in cell {_pt(arr[i, t])}")
    if t1 > 1:
        cells = h * w
        u, v = ids[:, :-1], ids[:, 1:]
        moving = u != v
        times = np.broadcast_to(np.arange(t1 - 1), u.shape)
        fwd = (times * cells + u) * cells + v
        rev = (times * cells + v) * cells + u
        swapped = moving & np.isin(fwd, rev[moving])
        if np.any(swapped):
            t = int(np.argmax(swapped.any(axis=0)))
            agents = np.flatnonzero(swapped[:, t])
            i = int(agents[0])
            j = int(next(b for b in agents if u[b, t] == v[i, t] and v[b, t] == u[i, t]))
            raise InfeasibleSolution(f"swap conflict of agents {i} and {j} between t={t} and t={t + 1} on edge "
                                     f"{_pt(arr[i, t])}-{_pt(arr[j, t])}")
    return arr


def agent_costs(instance: MAPFInstance, paths) -> np.ndarray:
    """Per-agent cost of checked paths: the first timestep from which the agent stays on its goal until T.

    Raises InfeasibleSolution if an agent is not on its goal at the last timestep.
    """
    arr = check_paths(instance, paths)
    if instance.num_agents == 0:
        return np.zeros(0, dtype=np.int64)
    at_goal = np.all(arr == instance.goals[:, None, :], axis=2)  # (n, T+1)
    if not np.all(at_goal[:, -1]):
        a = int(np.argmin(at_goal[:, -1]))
        raise InfeasibleSolution(f"agent {a} ends at {_pt(arr[a, -1])}, not at its goal {_pt(instance.goals[a])} "
                                 f"(t={arr.shape[1] - 1})")
    # last timestep off the goal, + 1; agents never off the goal cost 0
    off = ~at_goal
    t1 = arr.shape[1]
    last_off = np.where(off.any(axis=1), t1 - 1 - np.argmax(off[:, ::-1], axis=1), -1)
    return (last_off + 1).astype(np.int64)


def evaluate_mapf(instance: MAPFInstance, paths) -> float:
    """Sum of costs of conflict-free ``paths`` (agents, T+1, 2); raises InfeasibleSolution naming agents and t."""
    return float(agent_costs(instance, paths).sum())


def mapf_metrics(instance: MAPFInstance, paths) -> dict:
    """Sum of costs, makespan and per-agent costs of conflict-free one-shot ``paths``."""
    costs = agent_costs(instance, paths)
    return {"soc": int(costs.sum()), "makespan": int(costs.max(initial=0)), "costs": costs.tolist()}


def goals_reached(instance: MAPFLifelongInstance, paths) -> np.ndarray:
    """Per-agent number of stream goals reached by checked lifelong ``paths``."""
    arr = check_paths(instance, paths)
    if arr.shape[1] != instance.horizon + 1:
        raise InfeasibleSolution(f"paths: lifelong paths must cover the horizon, expected {instance.horizon + 1} "
                                 f"timesteps, got {arr.shape[1]}")
    w = instance.grid.shape[1]
    from ncosolve.problems.mapf_kernels import count_reached

    return count_reached(to_ids(arr, w), to_ids(instance.goal_streams, w))


def evaluate_mapf_lifelong(instance: MAPFLifelongInstance, paths) -> float:
    """Throughput of conflict-free lifelong ``paths`` (agents, horizon+1, 2): goals reached per timestep."""
    return float(goals_reached(instance, paths).sum()) / instance.horizon


def prepare_lifelong_evaluation(instance=None) -> None:
    """Compile (or load from numba's cache) the kernel that counts reached goals, on a 2x2 instance."""
    from ncosolve.problems.mapf_kernels import count_reached

    count_reached(np.zeros((1, 2), dtype=np.int64), np.zeros((1, 1), dtype=np.int64))
