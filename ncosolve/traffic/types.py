"""Data carried through the jit-compiled equilibrium solver (Jumanji-style: plain pytrees, shapes in comments)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import numpy as np


class Topology(NamedTuple):
    """The fixed part of a network, shared by every design in a batch. L links, N nodes."""

    init: jax.Array            # (L,) int32 tail node of each link
    term: jax.Array            # (L,) int32 head node of each link
    free_flow_time: jax.Array  # (L,) float64 t0
    b: jax.Array               # (L,) float64 BPR coefficient
    power: jax.Array           # (L,) float64 BPR exponent
    no_through: jax.Array      # (N,) bool, nodes paths may start/end at but not pass through


class Scenario(NamedTuple):
    """What varies between the problems of a batch. Z zones."""

    capacity: jax.Array  # (L,) float64 link capacity
    is_open: jax.Array   # (L,) bool, closed links carry no flow (candidate links not built)
    demand: jax.Array    # (Z, Z) float64 OD demand


class UEState(NamedTuple):
    """Loop state of the conjugate Frank-Wolfe family."""

    flows: jax.Array      # (L,) current link flows x_k
    target1: jax.Array    # (L,) previous search target s_{k-1}
    target2: jax.Array    # (L,) target before that s_{k-2}
    step: jax.Array       # () previous step size tau_{k-1}
    iteration: jax.Array  # () int32 steps taken
    depth: jax.Array      # () int32 conjugate steps since the last plain Frank-Wolfe step (0: next is FW)
    gap: jax.Array        # () relative gap at ``flows``
    tstt: jax.Array       # () total travel time at ``flows``
    done: jax.Array       # () bool, gap reached or iterations spent


@dataclass(frozen=True)
class EquilibriumResult:
    """A user equilibrium: ``flows`` and ``times`` per link (file order), total travel time ``tstt``,
    Beckmann objective ``beckmann``, ``relative_gap`` = (tstt - sptt) / tstt, and ``iterations`` used.

    From ``equilibrium_batch`` every field carries a leading batch axis.
    """

    flows: np.ndarray
    times: np.ndarray
    tstt: np.ndarray | float
    beckmann: np.ndarray | float
    relative_gap: np.ndarray | float
    iterations: np.ndarray | int
