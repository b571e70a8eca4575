"""MovingAI grid benchmark files: ``.map`` grids and ``.scen`` scenarios (Sturtevant 2012, Stern et al. 2019).

``.map``: header ``type octile`` / ``height H`` / ``width W`` / ``map``, then H rows; ``.`` and ``G`` are free,
``@ O T S W`` are obstacles (``S`` swamp and ``W`` water are not passable by ground agents).
``.scen``: ``version 1`` then one line per agent: bucket, map file, width, height, start x, start y, goal x,
goal y, optimal length — x is the column and y the row, and the optimal length is the *octile* (8-connected,
no corner cutting) distance, not the 4-connected one MAPF uses.

``read_instance`` on a ``.scen`` loads the map named in its second column, relative to the scen's folder,
and the first ``agents`` scenario lines (all lines by default), the MAPF benchmark's convention.
On a ``.map`` it returns a ``MAPFInstance`` with no agents, or with ``agents`` agents placed at random on the
largest connected component (``seed`` picks them) when ``agents`` is given.
"""

from __future__ import annotations

import heapq
import math
import os
from pathlib import Path

import numpy as np

from ncosolve.errors import InvalidInstance
from ncosolve.problems.mapf import MAPFInstance

FREE = frozenset(".G")
OBSTACLE = frozenset("@OTSW")


def read_map(path: str | os.PathLike) -> np.ndarray:
    """The (H, W) bool grid (True = obstacle) of a MovingAI ``.map`` file."""
    path = Path(path)
    lines = path.read_text().splitlines()
    header: dict[str, str] = {}
    k = 0
    while k < len(lines) and lines[k].strip().lower() != "map":
        parts = lines[k].split()
        if len(parts) == 2:
            header[parts[0].lower()] = parts[1]
        k += 1
    if k == len(lines) or "height" not in header or "width" not in header:
        raise InvalidInstance(f"{path.name}: not a MovingAI map (expected height, width and a 'map' line)")
    h, w = int(header["height"]), int(header["width"])
    rows = [line.rstrip("\r\n") for line in lines[k + 1:k + 1 + h]]
    if len(rows) != h or any(len(r) < w for r in rows):
        raise InvalidInstance(f"{path.name}: expected {h} rows of {w} cells")
    chars = np.array([list(r[:w]) for r in rows])
    unknown = set(np.unique(chars)) - FREE - OBSTACLE
    if unknown:
        raise InvalidInstance(f"{path.name}: unknown map characters {sorted(unknown)}")
    return np.isin(chars, list(OBSTACLE))


def write_map(grid: np.ndarray, path: str | os.PathLike) -> None:
    """Write a bool grid (True = obstacle) as a MovingAI ``.map`` (``.`` free, ``@`` obstacle)."""
    grid = np.asarray(grid, dtype=bool)
    rows = ["".join("@" if c else "." for c in row) for row in grid]
    text = f"type octile\nheight {grid.shape[0]}\nwidth {grid.shape[1]}\nmap\n" + "\n".join(rows) + "\n"
    Path(path).write_text(text)


def read_scen(path: str | os.PathLike, agents: int | None = None, map_path: str | os.PathLike | None = None
              ) -> MAPFInstance:
    """One-shot MAPF from a ``.scen`` file: its map plus the first ``agents`` lines (all when None).

    ``map_path`` overrides the map named in the file (which is looked up beside the scen).
    """
    path = Path(path)
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines or not lines[0].lower().startswith("version"):
        raise InvalidInstance(f"{path.name}: not a MovingAI scenario (expected 'version' on the first line)")
    entries = [line.split("\t") if "\t" in line else line.split() for line in lines[1:]]
    if not entries:
        raise InvalidInstance(f"{path.name}: no scenario lines")
    if agents is not None:
        if not 0 <= agents <= len(entries):
            raise InvalidInstance(f"agents: {path.name} has {len(entries)} scenario lines, asked for {agents}")
        entries = entries[:agents]
    if any(len(e) != 9 for e in entries):
        raise InvalidInstance(f"{path.name}: scenario lines need 9 columns")
    first = lines[1].split("\t") if "\t" in lines[1] else lines[1].split()
    map_file = Path(map_path) if map_path is not None else path.parent / first[1]
    if not map_file.is_file():
        raise InvalidInstance(f"{path.name}: map file {map_file} not found")
    grid = read_map(map_file)
    cols = np.array([[int(e[4]), int(e[5]), int(e[6]), int(e[7])] for e in entries], dtype=np.int64).reshape(-1, 4)
    starts = cols[:, [1, 0]]  # (y, x) = (row, col)
    goals = cols[:, [3, 2]]
    suffix = "" if agents is None else f"-{agents}"
    return MAPFInstance(grid, starts, goals, name=path.stem + suffix)


def octile_distances(grid: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """Octile shortest-path lengths from ``source`` (8-connected, diagonals cost sqrt 2, no corner cutting)."""
    h, w = grid.shape
    dist = np.full((h, w), np.inf)
    dist[source] = 0.0
    heap = [(0.0, source[0], source[1])]
    steps = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc]
    while heap:
        d, r, c = heapq.heappop(heap)
        if d > dist[r, c]:
            continue
        for dr, dc in steps:
            nr, nc = r + dr, c + dc
            if not (0 <= nr < h and 0 <= nc < w) or grid[nr, nc]:
                continue
            if dr and dc and (grid[r, nc] or grid[nr, c]):
                continue
            nd = d + (math.sqrt(2.0) if dr and dc else 1.0)
            if nd < dist[nr, nc] - 1e-12:
                dist[nr, nc] = nd
                heapq.heappush(heap, (nd, nr, nc))
    return dist


def write_scen(instance: MAPFInstance, path: str | os.PathLike, map_name: str) -> None:
    """Write ``instance``'s agents as a ``.scen`` naming ``map_name`` (bucket = octile length // 4, as MovingAI)."""
    h, w = instance.grid.shape
    out = ["version 1"]
    for (sr, sc), (gr, gc) in zip(instance.starts.tolist(), instance.goals.tolist()):
        opt = float(octile_distances(instance.grid, (sr, sc))[gr, gc])
        out.append(f"{int(opt // 4)}\t{map_name}\t{w}\t{h}\t{sc}\t{sr}\t{gc}\t{gr}\t{opt:.8f}")
    Path(path).write_text("\n".join(out) + "\n")


def scen_optimal_lengths(path: str | os.PathLike, agents: int | None = None) -> np.ndarray:
    """The octile optimal-length column of a ``.scen`` file (first ``agents`` lines)."""
    lines = [line for line in Path(path).read_text().splitlines() if line.strip()][1:]
    lines = lines if agents is None else lines[:agents]
    return np.array([float(line.split()[-1]) for line in lines])


def read_movingai(path: Path, agents: int | None = None, seed: int = 0, map_path=None) -> MAPFInstance:
    """``read_instance`` entry point for ``.map`` and ``.scen`` files (see the module docstring)."""
    path = Path(path)
    if path.suffix.lower() == ".scen":
        return read_scen(path, agents=agents, map_path=map_path)
    grid = read_map(path)
    if not agents:
        return MAPFInstance(grid, np.zeros((0, 2)), np.zeros((0, 2)), name=path.stem)
    from ncosolve.problems.mapf_generators import random_scenario

    starts, goals = random_scenario(grid, agents, seed=seed)
    return MAPFInstance(grid, starts, goals, name=f"{path.stem}-{agents}-s{seed}")


def is_movingai(path: Path, head: str) -> bool:
    first = head.lstrip().split("\n", 1)[0].lower()
    suffix = path.suffix.lower()
    return (suffix == ".map" and first.startswith(("type", "height"))) or (suffix == ".scen" and first.startswith("version"))


