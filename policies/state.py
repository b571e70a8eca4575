"""Batched construction state for TSP and CVRP: B instances x P parallel trajectories, one action per step."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ncosolve.policies.batch import RoutingBatch
from ncosolve.problems.vrp import LOAD_TOL



@dataclass
class RouteState:
    """Where each of the (B, P) trajectories stands; updated in place by ``step``.

    TSP: ``first``/``last`` are the first and current node (-1 before the first move).
    CVRP: trajectories start at the depot (``last`` = 0); ``left`` is the vehicle's remaining capacity.
    ``length`` sums the instance's own edge lengths (float64) so it equals ``evaluate``'s objective.
    """

    batch: RoutingBatch
    visited: torch.Tensor  # (B, P, N) bool; the depot is never marked
    first: torch.Tensor  # (B, P) long
    last: torch.Tensor  # (B, P) long
    left: torch.Tensor  # (B, P) float64
    length: torch.Tensor  # (B, P) float64
    done: torch.Tensor  # (B, P) bool
    visits: torch.Tensor  # (B, P) long: nodes marked visited (customers for CVRP), so "all visited" is a compare
    steps: int = 0

    @classmethod
    def initial(cls, batch: RoutingBatch, starts: int) -> "RouteState":
        """Empty trajectories, ``starts`` per instance."""
        b, n = batch.nodes.shape[:2]
        dev = batch.nodes.device
        start = -1 if batch.problem == "tsp" else 0
        return cls(batch, torch.zeros(b, starts, n, dtype=torch.bool, device=dev),
                   torch.full((b, starts), start, dtype=torch.long, device=dev),
                   torch.full((b, starts), start, dtype=torch.long, device=dev),
                   batch.capacity[:, None].expand(b, starts).clone(),
                   torch.zeros(b, starts, dtype=torch.float64, device=dev),
                   torch.zeros(b, starts, dtype=torch.bool, device=dev),
                   torch.zeros(b, starts, dtype=torch.long, device=dev))

    def mask(self) -> torch.Tensor:
        """(B, P, N) True where the next action is allowed; finished trajectories may only 'stay' (depot / first)."""
        allowed = ~self.visited
        if self.batch.problem == "cvrp":
            demand = self.batch.demand[:, None, :]
            allowed = allowed & (demand <= self.left[..., None] + LOAD_TOL)
            allowed[..., 0] = (self.last != 0) | self.done
        else:
            rows = torch.nonzero(self.done, as_tuple=True)
            allowed[rows + (self.first[self.done],)] = True
        return allowed

    def _edge(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """cost[b, src[b, p], dst[b, p]] for every (b, p), read by flat index (one element each)."""
        b, n = src.shape[0], self.batch.size
        flat = (torch.arange(b, device=src.device)[:, None] * n + src.clamp(min=0)) * n + dst
        return self.batch.cost.reshape(-1)[flat]

    def step(self, action: torch.Tensor) -> None:
        """Move every unfinished trajectory to ``action`` (B, P); finished ones are left as they are."""
        live = ~self.done
        if self.batch.problem == "tsp":
            moved = self.last >= 0
            self.length += torch.where(live & moved, self._edge(self.last, action), 0.0)
            self.first = torch.where(moved, self.first, action)
        else:
            self.length += torch.where(live, self._edge(self.last, action), 0.0)
            demand = torch.gather(self.batch.demand, 1, action)
            self.left = torch.where(action == 0, self.batch.capacity[:, None], self.left - demand)
        self.last = torch.where(live, action, self.last)
        self.visited.scatter_(2, action[..., None], live[..., None] | self.visited.gather(2, action[..., None]))
        if self.batch.problem == "cvrp":
            self.visited[..., 0] = False
            self.visits += live & (action != 0)
            finished = (self.visits == self.batch.size - 1) & live
            self.length += torch.where(finished, self._edge(self.last, torch.zeros_like(action)), 0.0)
        else:
            self.visits += live
            finished = (self.visits == self.batch.size) & live
            self.length += torch.where(finished, self._edge(self.last, self.first), 0.0)
        self.done = self.done | finished
        self.steps += 1
