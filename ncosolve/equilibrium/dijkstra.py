"""All-or-nothing loading by Dijkstra on the host (numba), called from the jit-compiled solver.

The pure-JAX loader (``shortest_paths.py``) does Bellman-Ford sweeps over every link for every origin, so
its work grows with zones x links x hop depth; on a CPU that is what limits networks of thousands of links
and hundreds of zones. Here one binary-heap Dijkstra per origin over a CSR adjacency settles each node
once, and the origin's demand is pushed back up its tree in reverse settling order. The solver reaches it
through ``jax.pure_callback``, so the Frank-Wolfe loop stays one compiled ``while_loop``.
"""

from __future__ import annotations

import heapq

import jax
import numpy as np
from numba import njit

from ncosolve.equilibrium.types import Topology


@njit(cache=True)
def _adjacency(init, num_nodes):
    """CSR of links by tail node: links ``order[start[v]:start[v + 1]]`` leave node v."""
    start = np.zeros(num_nodes + 1, np.int64)
    for tail in init:
        start[tail + 1] += 1
    start = np.cumsum(start)
    order = np.argsort(init, kind="mergesort")
    return start, order


@njit(cache=True)
def _load(init, term, no_through, cost, demand):
    """(flows (L,), sptt, unserved) of ``demand`` (Z, Z) on shortest paths; cost inf marks a closed link."""
    n = no_through.shape[0]
    zones = demand.shape[0]
    start, order = _adjacency(init, n)
    flows = np.zeros(cost.shape[0])
    dist = np.empty(n)
    pred = np.empty(n, np.int64)
    settled = np.empty(n, np.int64)
    done = np.empty(n, np.bool_)
    through = np.empty(n)
    sptt = 0.0
    unserved = 0.0
    for origin in range(zones):
        if not np.any(demand[origin] > 0):
            continue
        dist[:] = np.inf
        pred[:] = -1
        done[:] = False
        dist[origin] = 0.0
        heap = [(0.0, origin)]
        count = 0
        while heap:
            d, v = heapq.heappop(heap)
            if done[v]:
                continue
            done[v] = True
            settled[count] = v
            count += 1
            if v != origin and no_through[v]:
                continue
            for k in range(start[v], start[v + 1]):
                link = order[k]
                nd = d + cost[link]
                head = term[link]
                if nd < dist[head]:
                    dist[head] = nd
                    pred[head] = link
                    heapq.heappush(heap, (nd, head))
        through[:] = 0.0
        for dest in range(zones):
            amount = demand[origin, dest]
            if amount > 0:
                if np.isfinite(dist[dest]):
                    sptt += amount * dist[dest]
                    through[dest] += amount
                else:
                    unserved += amount
        for i in range(count - 1, 0, -1):  # children settle after their parents: push flow up the tree
            v = settled[i]
            link = pred[v]
            if link >= 0 and through[v] != 0.0:
                flows[link] += through[v]
                through[init[link]] += through[v]
    return flows, sptt, unserved


def _host_load(init, term, no_through, cost, demand):
    flows, sptt, unserved = _load(np.asarray(init, np.int64), np.asarray(term, np.int64),
                                  np.asarray(no_through, np.bool_), np.asarray(cost, np.float64),
                                  np.asarray(demand, np.float64))
    return flows, np.float64(sptt), np.float64(unserved)


def all_or_nothing_dijkstra(topo: Topology, cost, demand):
    """Same contract as ``shortest_paths.all_or_nothing`` (float64 only), computed on the host."""
    shapes = (jax.ShapeDtypeStruct(cost.shape, cost.dtype), jax.ShapeDtypeStruct((), cost.dtype),
              jax.ShapeDtypeStruct((), cost.dtype))
    return jax.pure_callback(_host_load, shapes, topo.init, topo.term, topo.no_through, cost, demand,
                             vmap_method="sequential")
