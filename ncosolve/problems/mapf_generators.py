"""Seeded MAPF generators: POGEMA-style random grids, mazes, warehouse layouts, start/goal scenarios on the
largest connected component, and lifelong goal streams.

POGEMA's random benchmark draws the side length uniformly from 17..21 and the obstacle density uniformly
from [0.1, 0.3], each cell an obstacle independently with that probability; ``random_grid`` does the same.
"""

from __future__ import annotations

import numpy as np

from ncosolve.errors import InvalidInstance
from ncosolve.problems.mapf import MAPFInstance, MAPFLifelongInstance, components

GRID_KINDS = ("random", "maze", "warehouse")


def random_grid(seed: int = 0, size: int | None = None, density: float | None = None) -> np.ndarray:
    """A POGEMA-style random square grid: side ``size`` (default U{17..21}), obstacle ``density`` (default U[0.1, 0.3])."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(17, 22)) if size is None else int(size)
    density = float(rng.uniform(0.1, 0.3)) if density is None else float(density)
    if size < 2 or not 0 <= density < 1:
        raise InvalidInstance(f"random_grid: need size >= 2 and 0 <= density < 1, got {size}, {density}")
    return rng.random((size, size)) < density


def maze_grid(seed: int = 0, size: int = 21, loops: float = 0.15) -> np.ndarray:
    """A (size, size) maze of 1-wide corridors (randomised depth-first search), with a ``loops`` fraction of the
    remaining inner walls knocked out so that agents can pass each other; ``size`` is rounded up to odd."""
    if size < 5 or not 0 <= loops <= 1:
        raise InvalidInstance(f"maze_grid: need size >= 5 and 0 <= loops <= 1, got {size}, {loops}")
    size += 1 - size % 2
    rng = np.random.default_rng(seed)
    cells = (size - 1) // 2
    grid = np.ones((size, size), dtype=bool)
    grid[1::2, 1::2] = False
    seen = np.zeros((cells, cells), dtype=bool)
    stack = [(int(rng.integers(cells)), int(rng.integers(cells)))]
    seen[stack[0]] = True
    while stack:
        r, c = stack[-1]
        nxt = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
               if 0 <= r + dr < cells and 0 <= c + dc < cells and not seen[r + dr, c + dc]]
        if not nxt:
            stack.pop()
            continue
        nr, nc = nxt[int(rng.integers(len(nxt)))]
        grid[r + nr + 1, c + nc + 1] = False  # the wall between (2r+1, 2c+1) and (2nr+1, 2nc+1)
        seen[nr, nc] = True
        stack.append((nr, nc))
    inner = np.zeros_like(grid)
    inner[1:-1, 1:-1] = True
    walls = np.argwhere(grid & inner & ((np.indices(grid.shape).sum(axis=0) % 2) == 1))
    knock = walls[rng.random(len(walls)) < loops]
    grid[knock[:, 0], knock[:, 1]] = False
    return grid


def warehouse_grid(shelf_rows: int = 5, shelf_cols: int = 4, shelf_length: int = 8, corridor: int = 2,
                   margin: int = 3) -> np.ndarray:
    """A warehouse floor: ``shelf_rows`` x ``shelf_cols`` one-cell-deep shelves of ``shelf_length`` cells,
    ``corridor`` free cells between shelves, and ``margin`` free columns left and right (the stations).

    The defaults give a 17 x 44 layout; MovingAI's warehouse-10-20-10-2-* maps ship in the package."""
    if min(shelf_rows, shelf_cols, shelf_length, corridor, margin) < 1:
        raise InvalidInstance("warehouse_grid: every dimension must be at least 1")
    h = corridor + shelf_rows * (1 + corridor)
    w = 2 * margin + shelf_cols * shelf_length + (shelf_cols - 1) * corridor
    grid = np.zeros((h, w), dtype=bool)
    for i in range(shelf_rows):
        r = corridor + i * (1 + corridor)
        for j in range(shelf_cols):
            c = margin + j * (shelf_length + corridor)
            grid[r, c:c + shelf_length] = True
    return grid


def largest_component(grid: np.ndarray) -> np.ndarray:
    """Bool mask (H, W) of the largest 4-connected free component."""
    labels = components(grid)
    if labels.max() == 0:
        raise InvalidInstance("grid: has no free cell")
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def random_scenario(grid: np.ndarray, agents: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Distinct starts and distinct goals (agents, 2) drawn uniformly on the largest connected component.

    When there is room (2 * agents cells), starts and goals are all different cells, so no agent starts on
    another's goal."""
    free = np.argwhere(largest_component(grid))
    if agents > len(free):
        raise InvalidInstance(f"agents: {agents} agents do not fit on {len(free)} connected free cells")
    rng = np.random.default_rng(seed)
    if 2 * agents <= len(free):
        picks = rng.choice(len(free), size=2 * agents, replace=False)
        return free[picks[:agents]], free[picks[agents:]]
    return free[rng.permutation(len(free))[:agents]], free[rng.permutation(len(free))[:agents]]


def goal_streams(grid: np.ndarray, starts: np.ndarray, length: int, seed: int = 0) -> np.ndarray:
    """(agents, length, 2) lifelong goals: each drawn uniformly from the agent's component, never equal to the
    previous goal (nor, for the first, to the start)."""
    labels = components(grid)
    rng = np.random.default_rng(seed)
    starts = np.asarray(starts, dtype=np.int64).reshape(-1, 2)
    out = np.empty((len(starts), length, 2), dtype=np.int64)
    for a, (r, c) in enumerate(starts):
        cells = np.argwhere(labels == labels[r, c])
        if len(cells) < 2:
            raise InvalidInstance(f"starts: agent {a} is alone in a one-cell component, it has nowhere to go")
        prev = r * grid.shape[1] + c
        ids = cells[:, 0] * grid.shape[1] + cells[:, 1]
        picks = rng.integers(len(cells), size=length)
        for k in range(length):
            while ids[picks[k]] == prev:
                picks[k] = rng.integers(len(cells))
            prev = ids[picks[k]]
        out[a] = cells[picks]
    return out


def make_grid(kind: str, seed: int = 0, **options) -> np.ndarray:
    """A grid of ``kind`` in GRID_KINDS (options go to ``random_grid`` / ``maze_grid`` / ``warehouse_grid``)."""
    if kind == "random":
        return random_grid(seed, **options)
    if kind == "maze":
        return maze_grid(seed, **options)
    if kind == "warehouse":
        return warehouse_grid(**options)
    raise InvalidInstance(f"kind: {kind!r} is not one of {GRID_KINDS}")


def generate_mapf(kind: str = "random", agents: int = 8, seed: int = 0, grid: np.ndarray | None = None,
                  **options) -> MAPFInstance:
    """A seeded one-shot instance: a ``kind`` grid (or the given ``grid``) and a random scenario on it."""
    grid = make_grid(kind, seed, **options) if grid is None else np.asarray(grid, dtype=bool)
    starts, goals = random_scenario(grid, agents, seed)
    return MAPFInstance(grid, starts, goals, name=f"{kind}-{grid.shape[0]}x{grid.shape[1]}-a{agents}-s{seed}")


def generate_mapf_lifelong(kind: str = "random", agents: int = 8, horizon: int = 256, seed: int = 0,
                           grid: np.ndarray | None = None, **options) -> MAPFLifelongInstance:
    """A seeded lifelong instance: a ``kind`` grid (or ``grid``), random starts, and goal streams of length
    ``horizon`` (enough: an agent reaches at most one goal per timestep)."""
    grid = make_grid(kind, seed, **options) if grid is None else np.asarray(grid, dtype=bool)
    starts, _ = random_scenario(grid, agents, seed)
    streams = goal_streams(grid, starts, horizon, seed + 1)
    return MAPFLifelongInstance(grid, starts, streams, horizon,
                                name=f"{kind}-{grid.shape[0]}x{grid.shape[1]}-a{agents}-h{horizon}-s{seed}")
