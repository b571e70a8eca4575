"""Pictures of routing solutions: a TSP tour, or VRP routes one colour each, drawn on the instance's points.

Figures are plain ``matplotlib.figure.Figure`` objects saved through the Agg renderer (no pyplot state, no
display), so plotting works headless and never changes the user's backend.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ncosolve.errors import InfeasibleSolution, NcoError
from ncosolve.problems import evaluate


def plot_points(instance) -> np.ndarray:
    """Where to draw the nodes, (n, 2); NcoError for matrix-only instances. GEO (lat, lon) is drawn lon across."""
    if instance.coords is None:
        raise NcoError(f"cannot plot {instance.name or 'this instance'}: it has a distance matrix only, "
                       "no coordinates")
    return instance.coords[:, ::-1] if instance.edge_weight_type == "GEO" else instance.coords


def _indices(nodes, n: int, what: str) -> np.ndarray:
    """``nodes`` as an int array, or NcoError when it is not a list of node indices in 0..n-1."""
    try:
        arr = np.asarray(nodes, dtype=np.float64)
    except (TypeError, ValueError):
        raise NcoError(f"{what}: expected a list of node indices") from None
    if arr.ndim != 1 or not np.all(arr == np.round(arr)):
        raise NcoError(f"{what}: expected a list of node indices")
    arr = arr.astype(np.int64)
    if np.any((arr < 0) | (arr >= n)):
        raise NcoError(f"{what}: node index out of range 0..{n - 1}")
    return arr


def _route_colours(k: int) -> list:
    """``k`` distinct colours: tab10 / tab20 while they last, then evenly spaced hues."""
    if k <= 10:
        return [colormaps["tab10"](i) for i in range(k)]
    if k <= 20:
        return [colormaps["tab20"](i) for i in range(k)]
    return [colormaps["hsv"](i / k) for i in range(k)]


def _default_title(instance, solution) -> str:
    try:
        return f"{instance.name or instance.problem}: cost {evaluate(instance, solution):g}"
    except InfeasibleSolution as exc:
        return f"{instance.name or instance.problem}: infeasible ({exc})"


def plot_solution(instance, solution, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw ``solution`` on ``instance``: a closed tour for TSP, one coloured route per vehicle for VRPs.

    Parameters
    ----------
    instance : a TSPInstance, CVRPInstance or CVRPTWInstance with coordinates.
    solution : a TSP permutation, or a list of routes of customer indices (depot 0 implied at both ends).
    ax : axes to draw on; None draws on a new Agg figure (``ax.figure``).
    title : None for "<name>: cost <evaluate()>" (or the infeasibility reason).

    Returns
    -------
    The axes drawn on.

    Raises
    ------
    NcoError when the instance has no coordinates or the solution is not of the instance's shape.
    """
    xy = plot_points(instance)
    if ax is None:
        ax = Figure(figsize=(7, 7), layout="constrained").add_subplot()
    if instance.problem == "tsp":
        tour = _indices(solution, instance.n, "tour")
        if len(tour) == 0:
            raise NcoError("tour: empty")
        closed = np.append(tour, tour[:1])
        ax.plot(xy[closed, 0], xy[closed, 1], "-", color="tab:blue", lw=1.2, zorder=1)
        ax.scatter(xy[:, 0], xy[:, 1], s=12, color="black", zorder=2)
        ax.scatter(*xy[tour[0]], s=60, color="tab:red", marker="s", zorder=3, label="start")
    elif instance.problem in ("cvrp", "cvrptw"):
        if not isinstance(solution, (list, tuple, np.ndarray)) or any(np.ndim(r) != 1 for r in solution):
            raise NcoError("routes: expected a list of routes, each a list of customer indices")
        routes = [_indices(r, instance.n, f"route {k}") for k, r in enumerate(solution)]
        colours = _route_colours(len(routes))
        for k, route in enumerate(routes):
            path = np.concatenate([[0], route, [0]])
            ax.plot(xy[path, 0], xy[path, 1], "-o", color=colours[k], lw=1.2, ms=3, zorder=1)
        ax.scatter(*xy[0], s=90, color="black", marker="s", zorder=3, label="depot")
    else:
        raise NcoError(f"cannot plot {instance.problem!r} solutions")
    ax.legend(loc="best", fontsize="small")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(_default_title(instance, solution) if title is None else title)
    return ax


def save_plot(instance, solution, path: str | os.PathLike, title: str | None = None, dpi: int = 120) -> None:
    """Write ``plot_solution`` as an image file (format from the suffix, e.g. ``.png``, ``.svg``)."""
    ax = plot_solution(instance, solution, title=title)
    ax.figure.savefig(path, dpi=dpi)
