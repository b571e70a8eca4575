"""All-or-nothing loading: shortest-path trees from every zone and the flows they carry, in pure JAX.

Shortest paths are label-correcting (Bellman-Ford) sweeps over all links at once, vmapped over origins:
each sweep is one gather + one segment-min over L links, and the number of sweeps is the hop depth of the
trees (tens even on thousands of links), so the whole step is a few dense, branch-free kernels that batch
across designs with ``vmap`` and run unchanged on a GPU. The demand is then pushed down each tree by the
same kind of sweep (a node's flow = its own demand + its children's flow) instead of a sequential scan.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ncosolve.traffic.types import Topology


def _tree(topo: Topology, cost, origin):
    """(dist (N,), pred (N,)) from ``origin``: shortest distances and the last link of a shortest path (-1: none)."""
    n = topo.no_through.shape[0]
    blocked = topo.no_through.at[origin].set(False)
    dist0 = jnp.full(n, jnp.inf, dtype=cost.dtype).at[origin].set(0.0)

    def offers(dist):
        return jnp.where(blocked[topo.init], jnp.inf, dist[topo.init]) + cost

    def sweep(carry):
        dist, _ = carry
        new = jnp.minimum(dist, jax.ops.segment_min(offers(dist), topo.term, num_segments=n))
        return new, jnp.any(new < dist)

    dist, _ = jax.lax.while_loop(lambda c: c[1], sweep, (dist0, jnp.array(True)))
    cand = offers(dist)
    tight = (cand == dist[topo.term]) & jnp.isfinite(cand)
    link_ids = jnp.arange(cost.shape[0], dtype=jnp.int32)
    pred = jax.ops.segment_max(jnp.where(tight, link_ids, -1), topo.term, num_segments=n)
    return dist, jnp.maximum(pred, -1).at[origin].set(-1)


def _load_tree(topo: Topology, pred, dest_demand):
    """(L,) flows of one origin's demand ``dest_demand`` (N,) sent down its shortest-path tree ``pred``."""
    n = pred.shape[0]
    num_links = topo.init.shape[0]
    has_pred = pred >= 0
    parent = jnp.where(has_pred, topo.init[jnp.maximum(pred, 0)], n)  # n: a sink for roots and unreached nodes

    def sweep(carry):
        through, _ = carry
        new = dest_demand + jax.ops.segment_sum(through, parent, num_segments=n + 1)[:n]
        return new, jnp.any(new != through)

    through, _ = jax.lax.while_loop(lambda c: c[1], sweep, (dest_demand, jnp.array(True)))
    return jax.ops.segment_sum(through, jnp.where(has_pred, pred, num_links), num_segments=num_links + 1)[:num_links]


def all_or_nothing(topo: Topology, cost, demand):
    """Load ``demand`` (Z, Z) onto shortest paths under link ``cost`` (L,; inf = closed).

    Returns (flows (L,), sptt, unserved): the shortest-path total travel time sum_od d_od * dist_od, and the
    demand with no path (which is left unloaded).
    """
    n = topo.no_through.shape[0]
    zones = demand.shape[0]
    origins = jnp.arange(zones)
    dist, pred = jax.vmap(lambda o: _tree(topo, cost, o))(origins)
    node_demand = jnp.zeros((zones, n), dtype=demand.dtype).at[:, :zones].set(demand)
    flows = jax.vmap(lambda p, d: _load_tree(topo, p, d))(pred, node_demand).sum(axis=0)
    zone_dist = dist[:, :zones]
    served = jnp.isfinite(zone_dist)
    sptt = jnp.sum(jnp.where(served & (demand > 0), demand * jnp.where(served, zone_dist, 0.0), 0.0))
    unserved = jnp.sum(jnp.where(served, 0.0, demand))
    return flows, sptt, unserved
