"""BPR link performance: times t(x) = t0 (1 + b (x/c)^p), their derivative and the Beckmann integral."""

from __future__ import annotations

import jax.numpy as jnp

from ncosolve.problems.network import bpr_times
from ncosolve.traffic.types import Scenario, Topology


def link_times(topo: Topology, scen: Scenario, flows):
    """(L,) travel time of each link at ``flows`` (``bpr_times``, the one BPR formula, on JAX arrays)."""
    return bpr_times(flows, scen.capacity, topo.free_flow_time, topo.b, topo.power)


def link_time_slopes(topo: Topology, scen: Scenario, flows):
    """(L,) derivative dt/dx of each link at ``flows`` (the diagonal Hessian of the Beckmann function)."""
    ratio = flows / scen.capacity
    return topo.free_flow_time * topo.b * topo.power * ratio ** (topo.power - 1.0) / scen.capacity


def link_times_and_slopes(topo: Topology, scen: Scenario, flows):
    """(times, slopes) at ``flows`` from one power per link, r^(p-1) (t = t0 (1 + b r^(p-1) r)): for the line
    search, which needs both many times over. Equal to ``link_times`` and ``link_time_slopes`` to rounding
    (a link with b = 0 may have any power, even one that would make r^(p-1) infinite at r = 0: it is 0 there)."""
    ratio = flows / scen.capacity
    lifted = jnp.where(topo.b > 0, ratio ** (topo.power - 1.0), 0.0)
    scaled = topo.free_flow_time * topo.b * lifted
    return topo.free_flow_time + scaled * ratio, scaled * topo.power / scen.capacity


def beckmann(topo: Topology, scen: Scenario, flows):
    """Beckmann objective sum_a integral_0^x_a t_a(w) dw, the potential that UE flows minimise."""
    ratio = flows / scen.capacity
    return jnp.sum(topo.free_flow_time * (flows + topo.b * scen.capacity * ratio ** (topo.power + 1.0)
                                          / (topo.power + 1.0)))
