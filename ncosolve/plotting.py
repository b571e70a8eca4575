"""Pictures of solutions: a TSP tour or VRP routes (one colour each) on the instance's points; MAPF paths on the
grid (one colour per agent, start and goal marked), also as an animated GIF; a network design's user-equilibrium
flows (line width by volume, colour by volume / capacity) with the chosen links highlighted.

Figures are plain ``matplotlib.figure.Figure`` objects saved through the Agg renderer (no pyplot state, no
display), so plotting works headless and never changes the user's backend.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ncosolve.errors import InfeasibleSolution, NcoError
from ncosolve.problems import evaluate

ROUTING = ("tsp", "cvrp", "cvrptw")
MAPF = ("mapf", "mapf-lifelong")


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


OBJECTIVE_NAMES = {"mapf": "sum of costs", "mapf-lifelong": "throughput", "ndp": "total travel time"}


def _default_title(instance, solution) -> str:
    what = OBJECTIVE_NAMES.get(instance.problem, "cost")
    try:
        return f"{instance.name or instance.problem}: {what} {evaluate(instance, solution):.6g}"
    except InfeasibleSolution as exc:
        return f"{instance.name or instance.problem}: infeasible ({exc})"


def check_plottable(instance, path: str | os.PathLike | None = None) -> None:
    """Raise NcoError unless solutions of ``instance`` can be drawn (to image file ``path``, if given: a ``.gif``
    animates MAPF paths only), so that a command fails before a long solve rather than after."""
    problem = getattr(instance, "problem", None)
    if problem in ROUTING:
        plot_points(instance)
    elif problem not in MAPF + ("ndp",):
        raise NcoError(f"cannot plot {problem or type(instance).__name__!r} solutions")
    if path is not None and str(path).lower().endswith(".gif") and problem not in MAPF:
        raise NcoError(f"{path}: a .gif animates MAPF paths; draw a {problem} solution as .png, .svg or .pdf")
    if path is not None and not str(path).lower().endswith(".gif"):
        import matplotlib.figure

        suffix = Path(path).suffix.lower().lstrip(".")
        supported = matplotlib.figure.Figure().canvas.get_supported_filetypes()
        if suffix not in supported:
            raise NcoError(f"{path}: unsupported image format {suffix!r}; use one of {', '.join(sorted(supported))}")


def can_plot(instance) -> bool:
    """Whether ``plot_solution`` draws solutions of ``instance``."""
    try:
        check_plottable(instance)
    except NcoError:
        return False
    return True


def plot_solution(instance, solution, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw ``solution`` on ``instance``: a closed tour for TSP, one coloured route per vehicle for VRPs, one
    coloured path per agent for MAPF, equilibrium flows and the chosen candidates for network design.

    Parameters
    ----------
    instance : a routing instance with coordinates, a MAPF(Lifelong)Instance or an NDPInstance.
    solution : a TSP permutation; a list of routes of customer indices (depot 0 implied at both ends); MAPF
        paths (agents, T+1, 2) of (row, col); a 0/1 design over the candidates.
    ax : axes to draw on; None draws on a new Agg figure (``ax.figure``).
    title : None for "<name>: cost <evaluate()>" (or the infeasibility reason).

    Returns
    -------
    The axes drawn on.

    Raises
    ------
    NcoError when the instance cannot be drawn or the solution is not of the instance's shape.
    """
    check_plottable(instance)
    if instance.problem in MAPF:
        return plot_paths(instance, solution, ax, title)
    if instance.problem == "ndp":
        return plot_design(instance, solution, ax, title)
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
    else:
        if not isinstance(solution, (list, tuple, np.ndarray)) or any(np.ndim(r) != 1 for r in solution):
            raise NcoError("routes: expected a list of routes, each a list of customer indices")
        routes = [_indices(r, instance.n, f"route {k}") for k, r in enumerate(solution)]
        colours = _route_colours(len(routes))
        for k, route in enumerate(routes):
            path = np.concatenate([[0], route, [0]])
            ax.plot(xy[path, 0], xy[path, 1], "-o", color=colours[k], lw=1.2, ms=3, zorder=1)
        ax.scatter(*xy[0], s=90, color="black", marker="s", zorder=3, label="depot")
    ax.legend(loc="best", fontsize="small")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(_default_title(instance, solution) if title is None else title)
    return ax


# ---------------------------------------------------------------------------------------------- MAPF
def _paths(instance, paths) -> np.ndarray:
    """MAPF ``paths`` as an int array (agents, T+1, 2), or NcoError when they are not of that shape."""
    try:
        arr = np.asarray(paths, dtype=np.float64)
    except (TypeError, ValueError):
        raise NcoError("paths: expected an array (agents, T+1, 2) of (row, col) positions") from None
    if arr.ndim != 3 or arr.shape[0] != instance.num_agents or arr.shape[1] < 1 or arr.shape[2] != 2 \
            or not np.all(arr == np.round(arr)):
        raise NcoError(f"paths: expected an integer array ({instance.num_agents}, T+1, 2) of (row, col) positions, "
                       f"got shape {arr.shape}")
    return arr.astype(np.int64)


def _draw_grid(instance, ax: Axes, colours: list) -> None:
    """Obstacles in dark grey on white, each agent's start (circle) and goal (star; first goal if lifelong)."""
    ax.imshow(instance.grid, cmap="Greys", vmin=0, vmax=1.25, interpolation="nearest", zorder=0)
    starts, goals = instance.starts, instance.goals
    ax.scatter(starts[:, 1], starts[:, 0], s=36, c=colours, edgecolors="black", linewidths=0.6, zorder=4)
    ax.scatter(goals[:, 1], goals[:, 0], s=90, c=colours, marker="*", edgecolors="black", linewidths=0.5, zorder=4)
    h, w = instance.grid.shape
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    goal = "first goal" if instance.problem == "mapf-lifelong" else "goal"
    ax.legend(handles=[Line2D([], [], ls="", marker="o", color="grey", label="start"),
                       Line2D([], [], ls="", marker="*", ms=10, color="grey", label=goal)],
              loc="upper right", fontsize="small", framealpha=0.8)


def _figure_for_grid(instance) -> Figure:
    h, w = instance.grid.shape
    side = 7.0
    return Figure(figsize=(side * min(1.0, w / h) + 0.4, side * min(1.0, h / w) + 0.6), layout="constrained")


def plot_paths(instance, paths, ax: Axes | None = None, title: str | None = None) -> Axes:
    """MAPF ``paths`` (agents, T+1, 2) on the grid: obstacles, one line per agent in its colour (slightly offset
    so shared corridors stay readable), start circles and goal stars."""
    arr = _paths(instance, paths)
    if ax is None:
        ax = _figure_for_grid(instance).add_subplot()
    colours = _route_colours(instance.num_agents)
    for a in range(instance.num_agents):
        shift = 0.08 * ((a % 5) - 2)
        ax.plot(arr[a, :, 1] + shift, arr[a, :, 0] + shift, "-", color=colours[a], lw=1.6, alpha=0.85, zorder=2)
    _draw_grid(instance, ax, colours)
    ax.set_title(_default_title(instance, arr) if title is None else title, fontsize="medium")
    return ax


def save_animation(instance, paths, path: str | os.PathLike, fps: int = 4, dpi: int = 80, title: str | None = None,
                   max_frames: int = 300) -> int:
    """Write MAPF ``paths`` as an animated GIF (matplotlib's PillowWriter): agents move over the grid leaving a
    fading trail; at most ``max_frames`` frames (longer paths are sampled evenly). Returns the frame count."""
    from matplotlib.animation import PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    arr = _paths(instance, paths)
    fig = _figure_for_grid(instance)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours = _route_colours(instance.num_agents)
    _draw_grid(instance, ax, colours)
    trails = [ax.plot([], [], "-", color=c, lw=1.4, alpha=0.6, zorder=2)[0] for c in colours]
    dots = ax.scatter(arr[:, 0, 1], arr[:, 0, 0], s=70, c=colours, edgecolors="black", linewidths=0.8, zorder=5)
    base = _default_title(instance, arr) if title is None else title
    steps = arr.shape[1]
    frames = np.unique(np.linspace(0, steps - 1, min(steps, max_frames)).round().astype(int))
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(path), dpi):
        for t in frames:
            dots.set_offsets(arr[:, t, ::-1])
            for a, line in enumerate(trails):
                line.set_data(arr[a, max(0, t - 8):t + 1, 1], arr[a, max(0, t - 8):t + 1, 0])
            ax.set_title(f"{base}\nt = {t} / {steps - 1}", fontsize="medium")
            writer.grab_frame()
    return len(frames)


# ---------------------------------------------------------------------------------------------- network design
def network_layout(network) -> np.ndarray:
    """Node positions (nodes, 2): the network's coordinates, else classical multidimensional scaling of the hop
    distances between nodes (deterministic, no extra dependency)."""
    if network.coords is not None:
        return np.asarray(network.coords, dtype=np.float64)
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    n = network.num_nodes
    graph = csr_matrix((np.ones(network.num_links), (network.init, network.term)), shape=(n, n))
    hops = shortest_path(graph, directed=False, unweighted=True)
    hops[~np.isfinite(hops)] = np.nanmax(np.where(np.isfinite(hops), hops, np.nan)) + 1
    centre = np.eye(n) - 1.0 / n
    values, vectors = np.linalg.eigh(-0.5 * centre @ (hops ** 2) @ centre)
    top = np.argsort(values)[::-1][:2]
    return vectors[:, top] * np.sqrt(np.maximum(values[top], 1e-12))


def _design(instance, design) -> np.ndarray:
    """A 0/1 design vector over the candidates, or NcoError."""
    try:
        arr = np.asarray(design, dtype=np.float64)
    except (TypeError, ValueError):
        raise NcoError("design: expected a 0/1 vector over the candidates") from None
    if arr.shape != (instance.num_candidates,) or not np.all((arr == 0) | (arr == 1)):
        raise NcoError(f"design: expected a 0/1 vector of {instance.num_candidates} entries, got shape {arr.shape}")
    return arr.astype(np.int64)


def design_flows(instance, design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flows, capacity, open) per link at the user equilibrium of the network ``design`` builds."""
    from ncosolve.traffic import equilibrium_batch

    cap, is_open = instance.link_arrays(_design(instance, design)[None])
    result = equilibrium_batch(instance.network, cap, is_open, tol=instance.ue_tol)
    return np.asarray(result.flows[0]), cap[0], is_open[0]


def changed_links(instance, design) -> np.ndarray:
    """Indices of the links a design builds (DNDP) or whose lanes it changes (lane addition / swap)."""
    links = instance.candidate_links[_design(instance, design) > 0]
    if instance.variant in ("dndp", "ndp-ls"):
        return np.unique(links[links >= 0])
    return np.unique(links[:, 0])


def plot_flows(network, flows, capacity=None, is_open=None, highlight=(), ax: Axes | None = None,
               title: str | None = None) -> Axes:
    """Link ``flows`` on ``network``: width by volume, colour by volume / capacity; the two directions of a
    street drawn side by side; closed links dashed grey; ``highlight`` links outlined in blue."""
    xy = network_layout(network)
    if ax is None:
        ax = Figure(figsize=(8, 7), layout="constrained").add_subplot()
    flows = np.asarray(flows, dtype=np.float64)
    capacity = network.capacity if capacity is None else np.asarray(capacity)
    is_open = np.ones(network.num_links, dtype=bool) if is_open is None else np.asarray(is_open, dtype=bool)
    tail, head = xy[network.init], xy[network.term]
    direction = head - tail
    normal = np.c_[direction[:, 1], -direction[:, 0]] / np.maximum(np.linalg.norm(direction, axis=1), 1e-12)[:, None]
    span = float(np.ptp(xy, axis=0).max()) or 1.0
    offset = 0.012 * span * normal  # right of the direction of travel
    segments = np.stack([tail + offset, head + offset], axis=1)
    ratio = np.where(is_open, flows / capacity, 0.0)
    norm = Normalize(0.0, max(1.0, float(ratio.max(initial=0.0))))
    cmap = colormaps["RdYlGn_r"]
    width = 0.6 + 6.0 * flows / max(float(flows.max(initial=0.0)), 1e-12)
    mark = np.zeros(network.num_links, dtype=bool)
    mark[np.asarray(highlight, dtype=np.int64)] = True
    if mark.any():
        ax.add_collection(LineCollection(segments[mark], colors="tab:blue", linewidths=width[mark] + 5, alpha=0.45,
                                         zorder=1))
    closed = ~is_open
    if closed.any():
        ax.add_collection(LineCollection(segments[closed], colors="0.6", linewidths=1.0, linestyles="--", zorder=2))
    ax.add_collection(LineCollection(segments[is_open], colors=cmap(norm(ratio[is_open])), linewidths=width[is_open],
                                     zorder=3))
    ax.scatter(xy[:, 0], xy[:, 1], s=18, color="black", zorder=4)
    if network.num_nodes <= 40:  # small networks: node numbers as in the files (1-based)
        for k, (x, y) in enumerate(xy):
            ax.annotate(str(k + 1), (x, y), textcoords="offset points", xytext=(4, 4), fontsize="small", zorder=5)
    ax.figure.colorbar(ScalarMappable(norm, cmap), ax=ax, label="volume / capacity", shrink=0.8)
    handles = [Line2D([], [], color="0.3", lw=3, label="width: volume")]
    if mark.any():
        chosen = int(mark.sum())
        handles.append(Line2D([], [], color="tab:blue", lw=6, alpha=0.45,
                              label=f"chosen: {chosen} link{'s' if chosen != 1 else ''}"))
    if closed.any():
        handles.append(Line2D([], [], color="0.6", lw=1, ls="--", label="not built"))
    ax.legend(handles=handles, loc="best", fontsize="small")
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize="medium")
    return ax


def plot_design(instance, design, ax: Axes | None = None, title: str | None = None) -> Axes:
    """A network design: equilibrium flows of the designed network, the links it builds or changes highlighted."""
    flows, capacity, is_open = design_flows(instance, design)
    ax = plot_flows(instance.network, flows, capacity, is_open, changed_links(instance, design), ax)
    ax.set_title(_default_title(instance, design) if title is None else title, fontsize="medium")
    return ax


def save_plot(instance, solution, path: str | os.PathLike, title: str | None = None, dpi: int = 120) -> None:
    """Write ``plot_solution`` as an image file (format from the suffix, e.g. ``.png``, ``.svg``; ``.gif`` animates
    MAPF paths)."""
    if str(path).lower().endswith(".gif") and getattr(instance, "problem", None) in MAPF:
        save_animation(instance, solution, path, title=title)
        return
    ax = plot_solution(instance, solution, title=title)
    ax.figure.savefig(path, dpi=dpi)
