"""Gymnasium environment for network design: pick candidates one at a time (or stop) under a budget.

Reward = -(TTT after - TTT before), both from ``ncosolve.evaluate`` (TTT at user equilibrium), so the
episode return is the saving of the final design over the do-nothing network.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ncosolve.errors import InvalidInstance
from ncosolve.problems import evaluate
from ncosolve.problems.network import NDPInstance

LINK_FEATURES = 5     # free-flow time, capacity, open (0/1), UE flow / capacity, UE time / free-flow time
CANDIDATE_FEATURES = 3  # cost / budget, chosen (0/1), affordable now (0/1)


class NetworkDesignEnv(gym.Env):
    """Sequential network design on a fixed-size ``NDPInstance`` (default: a 3x3 grid DNDP with 6 candidates).

    Action: a candidate index in 0..K-1, or K to stop. Observation (Dict): ``links`` (L, 5) features of the
    current design's UE, ``candidates`` (K, 3), ``budget_left`` (1,) as a fraction of the budget, and
    ``action_mask`` (K+1,) int8 (affordable, unchosen, conflict-free candidates; stop is always allowed).
    ``reset(options={"instance": inst})`` swaps in another instance with the same number of links and
    candidates. ``info["objective"]`` holds the current design's TTT from ``evaluate``.
    """

    metadata = {"render_modes": []}

    def __init__(self, instance: NDPInstance | None = None):
        if instance is None:
            from ncosolve.problems.network_generators import dndp_instance, grid_city

            instance = dndp_instance(grid_city(3, 3, seed=0)[0], num_candidates=6, seed=0)
        self.instance = instance
        k, m = instance.num_candidates, instance.network.num_links
        self.action_space = spaces.Discrete(k + 1)
        self.observation_space = spaces.Dict({
            "links": spaces.Box(0.0, np.inf, (m, LINK_FEATURES), np.float64),
            "candidates": spaces.Box(0.0, np.inf, (k, CANDIDATE_FEATURES), np.float64),
            "budget_left": spaces.Box(0.0, 1.0, (1,), np.float64),
            "action_mask": spaces.MultiBinary(k + 1),
        })
        self.design = np.zeros(k, dtype=np.int64)
        self.ttt = np.nan

    def _mask(self) -> np.ndarray:
        k = self.instance.num_candidates
        trial = np.repeat(self.design[None], k, axis=0)
        trial[np.arange(k), np.arange(k)] = 1
        ok = (self.design == 0) & self.instance.feasible(trial)
        return np.append(ok, True).astype(np.int8)

    def _observation(self, mask: np.ndarray) -> dict:
        inst, net = self.instance, self.instance.network
        from ncosolve.traffic.solver import equilibrium_batch

        cap, is_open = inst.link_arrays(self.design[None])
        ue = equilibrium_batch(net, cap, is_open, tol=inst.ue_tol)
        budget = max(inst.budget, 1e-12)
        spent = float(inst.candidate_cost @ self.design)
        links = np.stack([net.free_flow_time, cap[0], is_open[0].astype(float), ue.flows[0] / cap[0],
                          ue.times[0] / net.free_flow_time], axis=1)
        cands = np.stack([inst.candidate_cost / budget, self.design.astype(float), mask[:-1].astype(float)], axis=1)
        return {"links": links, "candidates": cands,
                "budget_left": np.array([np.clip(1.0 - spent / budget, 0.0, 1.0)]), "action_mask": mask}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "instance" in options:
            inst = options["instance"]
            if (inst.num_candidates, inst.network.num_links) != (self.instance.num_candidates,
                                                                    self.instance.network.num_links):
                raise InvalidInstance("NetworkDesign-v0: a reset instance must keep the number of candidates and "
                                      "links (the spaces are fixed); make a new env instead")
            self.instance = inst
        self.design = np.zeros(self.instance.num_candidates, dtype=np.int64)
        self.ttt = evaluate(self.instance, self.design)
        return self._observation(self._mask()), {"objective": self.ttt}

    def step(self, action):
        action = int(action)
        k = self.instance.num_candidates
        mask = self._mask()
        if not 0 <= action <= k or not mask[action]:
            raise ValueError(f"NetworkDesign-v0: action {action} is not allowed by the action mask")
        if action == k:
            return self._observation(mask), 0.0, True, False, {"objective": self.ttt, "design": self.design.copy()}
        self.design[action] = 1
        ttt = evaluate(self.instance, self.design)
        reward, self.ttt = self.ttt - ttt, ttt
        mask = self._mask()
        done = not mask[:-1].any()
        return self._observation(mask), float(reward), done, False, {"objective": self.ttt,
                                                                      "design": self.design.copy()}
