"""The TSP as a Gymnasium env (``ncosolve/TSP-v0``), and ``RoutingEnv``, the base CVRP-v0 / CVRPTW-v0 share.

The dynamics and masks are the routing core's (``ncosolve.envs.routing_core``), the same code the attention
policies train and decode on; each env is its one-instance, one-trajectory case, and ``RoutingVectorEnv``
(``gym.make_vec(..., vectorization_mode="vector_entry_point")``) its batched one.

Every routing env takes one action per node visit (``Discrete(n)``, the node index), returns a ``Dict``
observation with an ``int8`` ``action_mask`` (at least one entry is 1), and pays ``-`` the length of the
edges just driven, measured with ``instance.edges_length`` in the instance's own rounding convention, so a
finished episode's summed reward is ``-evaluate(instance, info["solution"])`` up to float rounding.

A masked action is **rejected**, not raised: the state stays as it was, the reward is 0, and
``info["invalid_action"]`` says why. (``gymnasium.utils.env_checker.check_env`` steps with unmasked samples
from ``action_space``, so raising would make a compliant env fail it.) An action outside ``0..n-1``, or a
step before ``reset`` or after the episode ended, raises.

Node features are the instance's own numbers, not rescaled: ``coords`` (n, 2) for coordinate instances,
or, for an env built with ``matrix=True``, ``distances`` (n, n), the full matrix of edge lengths (this is
how matrix-only instances, e.g. asymmetric TSPs, are observed).
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import Env, spaces
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ncosolve.envs.observe import check_fits, instance_features, node_spaces, state_obs, why_masked
from ncosolve.envs.routing_core import RouteState, routing_tensors, to_solution
from ncosolve.errors import InvalidInstance
from ncosolve.generators import DISTRIBUTIONS, generate
from ncosolve.plotting import plot_points
from ncosolve.problems import evaluate


class RoutingEnv(Env):
    """Shared parts of the routing envs: instance intake (given or generated), node features, stepping the
    routing core (``ncosolve.envs.routing_core.RouteState``, one instance, one trajectory), rendering.

    Subclasses set ``problem`` and the observation space, and may extend ``_final_info`` and ``_walks``.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}
    problem = ""

    def __init__(self, num_nodes: int, size: int, distribution: str, matrix: bool, render_mode: str | None):
        if distribution not in DISTRIBUTIONS:
            raise InvalidInstance(f"distribution: {distribution!r} is not one of {DISTRIBUTIONS}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: {render_mode!r} is not one of {self.metadata['render_modes']}")
        self.size, self.num_nodes, self.distribution = size, num_nodes, distribution
        self.matrix, self.render_mode = bool(matrix), render_mode
        self.action_space = spaces.Discrete(num_nodes)
        self.instance = None
        self.state: RouteState | None = None
        self.actions: list[int] = []  # every accepted action (a TSP's starts with node 0)
        self._features: dict[str, np.ndarray] = {}

    @property
    def done(self) -> bool:
        """Whether the episode has ended (True before the first reset)."""
        return self.state is None or bool(self.state.done[0, 0])

    @property
    def length(self) -> float:
        """Length driven so far, in the instance's units."""
        return 0.0 if self.state is None else float(self.state.length[0, 0])

    def _node_spaces(self) -> dict[str, spaces.Space]:
        """``coords`` or ``distances`` (``matrix=True``), plus where the vehicle is and what is visited."""
        return node_spaces(self.num_nodes, self.matrix)

    def _take_instance(self, options: dict | None):
        """The instance in ``options["instance"]`` after checking it fits this env, else a generated one."""
        inst = (options or {}).get("instance")
        if inst is None:
            seed = int(self.np_random.integers(2**31 - 1))
            return generate(self.problem, 1, self.size, seed=seed, distribution=self.distribution)[0]
        return check_fits(inst, self.problem, self.num_nodes, self.matrix, type(self).__name__)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode on ``options["instance"]`` (its size must match) or on a generated instance."""
        super().reset(seed=seed)
        self.instance = self._take_instance(options)
        self._features = instance_features(self.instance, self.matrix)
        self.state = RouteState.initial(routing_tensors([self.instance]), 1)
        self.actions = []
        if self.problem == "tsp":  # the tour starts at node 0
            self._move(0)
        return self._obs(), {}

    def _obs(self) -> dict:
        """Node features, position and masks, all fresh copies (callers keep what they are given)."""
        obs = {key: value.copy() for key, value in self._features.items()}
        obs.update({key: value[0].numpy() for key, value in state_obs(self.state).items()})
        obs["current"] = np.int64(obs["current"])
        return obs

    def _move(self, node: int) -> float:
        """Step the core to ``node``; the length driven."""
        before = self.length
        self.state.step(torch.tensor([[node]]))
        self.actions.append(node)
        return self.length - before

    def step(self, action):
        """Visit node ``action``; a masked action is rejected (no change, reward 0, ``info["invalid_action"]``)."""
        if self.instance is None:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()")
        if self.done:
            raise RuntimeError(f"{type(self).__name__}: the episode is over; call reset() to start another")
        if not self.action_space.contains(action):
            raise ValueError(f"{type(self).__name__}: action {action!r} is not a node index in 0..{self.num_nodes - 1}")
        node = int(action)
        if not bool(self.state.mask()[0, 0, node]):
            return self._obs(), 0.0, False, False, {"invalid_action": why_masked(self.instance, self.state, node)}
        reward = -self._move(node)
        return self._obs(), reward, self.done, False, self._final_info() if self.done else {}

    def _final_info(self) -> dict:
        """What a finished episode reports: the solution in the library's format and its ``evaluate`` cost."""
        solution = self._solution()
        return {"solution": solution, "objective": evaluate(self.instance, solution), "feasible": True}

    def _solution(self):
        return to_solution(self.problem, self.actions)

    def render(self):
        """The partial tour / routes drawn on the instance as an (H, W, 3) uint8 array (``rgb_array`` mode)."""
        if self.render_mode is None or self.instance is None:
            return None
        xy = self._layout()
        fig = Figure(figsize=(5, 5), dpi=80, layout="constrained")
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.scatter(xy[:, 0], xy[:, 1], s=10, color="black", zorder=2)
        for walk in self._walks():
            if len(walk) > 1:
                ax.plot(xy[walk, 0], xy[walk, 1], "-", lw=1.2, zorder=1)
        ax.scatter(*xy[0], s=60, color="tab:red", marker="s", zorder=3)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(f"{self.instance.name or self.problem}: length {self.length:g}", fontsize="small")
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def _layout(self) -> np.ndarray:
        """Where to draw each node: its coordinates, or a circle for a matrix-only instance."""
        if self.instance.coords is None:
            angle = 2 * np.pi * np.arange(self.num_nodes) / self.num_nodes
            return np.column_stack([np.cos(angle), np.sin(angle)])
        return plot_points(self.instance)


class TSPEnv(RoutingEnv):
    """Build a TSP tour node by node; the tour starts at node 0 and each action visits an unvisited node.

    The first action picks the second node of the tour. The step that visits the last node also drives the
    closing edge back to node 0, and the episode terminates with ``info`` holding ``solution`` (the tour, a
    permutation starting at 0), ``objective`` (``evaluate`` of it) and ``feasible`` (True).

    Parameters
    ----------
    size : number of nodes (fixes the spaces; a given instance must have this many).
    distribution : generator distribution for episodes reset without an instance.
    matrix : observe ``distances`` (n, n) instead of ``coords``; needed for matrix-only (e.g. asymmetric)
        instances. Generated episodes then observe their Euclidean matrix.
    render_mode : None or ``"rgb_array"``.

    Observation: ``coords`` (n, 2) float32 or ``distances`` (n, n) float32, ``current`` (node index),
    ``visited`` (n,) int8, ``action_mask`` (n,) int8 (the unvisited nodes; only node 0 once finished).
    """

    problem = "tsp"

    def __init__(self, size: int = 20, distribution: str = "uniform", matrix: bool = False,
                 render_mode: str | None = None):
        if size < 2:
            raise InvalidInstance(f"size: a TSP env needs at least 2 nodes, got {size}")
        super().__init__(size, size, distribution, matrix, render_mode)
        self.observation_space = spaces.Dict(self._node_spaces())

    def _walks(self) -> list[list[int]]:
        return [self.actions + [0] if self.done else list(self.actions)]
