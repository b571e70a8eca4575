"""The routing core as a Gymnasium ``VectorEnv``: B instances stepped at once in torch, one trajectory each.

    envs = gym.make_vec("ncosolve/CVRP-v0", num_envs=64, vectorization_mode="vector_entry_point", size=50)

Each sub-environment follows the one-instance env's contract (``ncosolve.envs.tsp``): one action per node
visit, rewards ``-`` the length driven, a masked action rejected (no change, reward 0, flagged in
``info["invalid_action"]``). Observations are the one-instance env's, stacked on a leading B axis, as numpy
arrays or, with ``tensors=True``, torch tensors on ``device``.

Autoreset is same-step (``AutoresetMode.SAME_STEP``): a sub-environment whose episode ends in a step returns
``terminated`` True, its solution in ``info["final_info"]`` (``solution``, ``objective`` = ``evaluate``,
``feasible``; masked by ``info["_final_info"]``), and already the first observation of a fresh generated
instance. ``reset(options={"instances": [...]})`` starts the B episodes on given instances (later resets
generate).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ncosolve.envs.observe import check_fits, instance_features, observation_space, state_obs
from ncosolve.envs.routing_core import RouteState, routing_tensors, to_solution
from ncosolve.errors import InvalidInstance
from ncosolve.generators import DISTRIBUTIONS, generate
from ncosolve.problems import evaluate


class RoutingVectorEnv(VectorEnv):
    """``num_envs`` routing episodes of ``problem`` with ``size`` nodes (customers for VRPs), batched."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
    problem = ""

    def __init__(self, num_envs: int = 1, size: int = 20, distribution: str = "uniform", matrix: bool = False,
                 tensors: bool = False, device: str = "cpu"):
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        if distribution not in DISTRIBUTIONS:
            raise InvalidInstance(f"distribution: {distribution!r} is not one of {DISTRIBUTIONS}")
        n = size if self.problem == "tsp" else size + 1
        if size < (2 if self.problem == "tsp" else 1):
            raise InvalidInstance(f"size: too small for a {self.problem} env, got {size}")
        self.num_envs, self.size, self.num_nodes, self.distribution = num_envs, size, n, distribution
        self.matrix, self.tensors, self.device = bool(matrix), bool(tensors), torch.device(device)
        self.single_observation_space = observation_space(self.problem, n, self.matrix)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.single_action_space = spaces.Discrete(n)
        self.action_space = spaces.MultiDiscrete(np.full(num_envs, n))
        self.instances: list = []
        self.state: RouteState | None = None
        self._features: dict[str, np.ndarray] = {}
        self._actions = torch.zeros(num_envs, 2 * n + 1, dtype=torch.long)  # every accepted action, per row
        self._count = torch.zeros(num_envs, dtype=torch.long)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start all B episodes, on ``options["instances"]`` (B instances of the env's size) or generated ones."""
        if seed is not None:
            self._np_random, self._np_random_seed = np.random.default_rng(seed), seed
        given = (options or {}).get("instances")
        if given is not None:
            if len(given) != self.num_envs:
                raise InvalidInstance(f"reset: {len(given)} instances for {self.num_envs} envs")
            given = [check_fits(inst, self.problem, self.num_nodes, self.matrix, type(self).__name__)
                     for inst in given]
        self.instances = list(given) if given is not None else self._generate(self.num_envs)
        core = routing_tensors(self.instances, self.device)
        self.state = RouteState.initial(core, 1)
        self._features = {key: np.stack([instance_features(inst, self.matrix)[key] for inst in self.instances])
                          for key in instance_features(self.instances[0], self.matrix)}
        self._start(torch.ones(self.num_envs, dtype=torch.bool))
        return self._obs(), {}

    def _generate(self, count: int) -> list:
        seed = int(self.np_random.integers(2**31 - 1))
        return generate(self.problem, count, self.size, seed=seed, distribution=self.distribution)

    def _start(self, rows: torch.Tensor) -> None:
        """Rows ``rows`` (B,) bool back at their start; a TSP tour starts at node 0."""
        self.state.reset_rows(rows.to(self.device))
        self._count[rows] = 0
        if self.problem == "tsp":
            self._record(torch.zeros(self.num_envs, dtype=torch.long), rows)

    def _record(self, action: torch.Tensor, rows: torch.Tensor) -> None:
        """Step the core for ``rows`` and keep their actions."""
        self.state.step(action[:, None].to(self.device), active=rows[:, None].to(self.device))
        idx = torch.nonzero(rows).squeeze(1)
        self._actions[idx, self._count[idx]] = action[idx]
        self._count[idx] += 1

    def step(self, actions):
        """One action per sub-environment (B,); see the module docstring for rewards, rejection and autoreset."""
        if self.state is None:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()")
        action = torch.as_tensor(np.asarray(actions.cpu() if isinstance(actions, torch.Tensor) else actions))
        if action.shape != (self.num_envs,) or action.dtype.is_floating_point:
            raise ValueError(f"{type(self).__name__}: actions must be {self.num_envs} node indices, got shape "
                             f"{tuple(action.shape)} of {action.dtype}")
        action = action.long()
        if bool(((action < 0) | (action >= self.num_nodes)).any()):
            raise ValueError(f"{type(self).__name__}: actions must be node indices in 0..{self.num_nodes - 1}")
        rows = torch.arange(self.num_envs)
        valid = self.state.mask()[:, 0].cpu()[rows, action]
        before = self.state.length[:, 0].cpu().clone()
        self._record(action, valid)
        reward = (before - self.state.length[:, 0].cpu()).numpy()
        terminated = self.state.done[:, 0].cpu().numpy().copy()
        infos: dict = {"invalid_action": ~valid.numpy(), "_invalid_action": ~valid.numpy()}
        if terminated.any():
            infos["final_info"], infos["_final_info"] = self._final_info(terminated), terminated
            self._restart(terminated)
        return self._obs(), reward, terminated, np.zeros(self.num_envs, dtype=bool), infos

    def _final_info(self, ended: np.ndarray) -> dict:
        """Solutions, ``evaluate`` objectives and fleet feasibility of the rows that just ended."""
        b = self.num_envs
        solution, objective, feasible = np.empty(b, dtype=object), np.zeros(b), np.zeros(b, dtype=bool)
        for i in np.flatnonzero(ended):
            inst = self.instances[i]
            solution[i] = to_solution(self.problem, self._actions[i, :self._count[i]].tolist())
            cap = getattr(inst, "num_vehicles", None)
            feasible[i] = cap is None or len(solution[i]) <= cap
            judged = inst if feasible[i] else dataclasses.replace(inst, num_vehicles=None)
            objective[i] = evaluate(judged, solution[i])
        return {"solution": solution, "objective": objective, "feasible": feasible,
                "_solution": ended, "_objective": ended, "_feasible": ended}

    def _restart(self, ended: np.ndarray) -> None:
        """Fresh generated instances in the rows that ended, written into the core's tensors in place."""
        idx = np.flatnonzero(ended)
        fresh = self._generate(len(idx))
        for i, inst in zip(idx, fresh):
            self.instances[i] = inst
        new = routing_tensors(fresh, self.device)
        for name, value in new.core_fields().items():
            if name != "problem":
                getattr(self.state.batch, name)[torch.as_tensor(idx)] = value
        for key in self._features:
            self._features[key][idx] = np.stack([instance_features(inst, self.matrix)[key] for inst in fresh])
        self._start(torch.as_tensor(ended))

    def _obs(self) -> dict:
        """The stacked observations (numpy, or torch with ``tensors=True``), fresh copies."""
        obs = {key: torch.from_numpy(value.copy()).to(self.device) for key, value in self._features.items()}
        obs.update({key: value.clone() for key, value in state_obs(self.state).items()})
        return obs if self.tensors else {key: value.cpu().numpy() for key, value in obs.items()}


class TSPVectorEnv(RoutingVectorEnv):
    """``ncosolve/TSP-v0`` batched (``matrix=True`` observes distances, for matrix-only instances)."""

    problem = "tsp"


class CVRPVectorEnv(RoutingVectorEnv):
    """``ncosolve/CVRP-v0`` batched."""

    problem = "cvrp"


class CVRPTWVectorEnv(RoutingVectorEnv):
    """``ncosolve/CVRPTW-v0`` batched."""

    problem = "cvrptw"
