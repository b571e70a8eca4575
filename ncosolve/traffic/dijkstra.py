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
import jax.numpy as jnp
import numpy as np
from numba import njit

from ncosolve.traffic.types import Topology


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


def _host_load(init, term, no_through, cost_words, demand_words):
    """``_load`` on host arrays; under ``vmap`` every input carries the same leading batch axes (broadcast_all),
    solved one by one here. Floats cross as uint32 word pairs (``_words``)."""
    cost, demand = _floats(cost_words), _floats(demand_words)
    lead = cost.shape[:-1]
    rows = int(np.prod(lead))
    num_links, zones, n = cost.shape[-1], demand.shape[-1], np.shape(no_through)[-1]
    init, term = np.asarray(init, np.int64).reshape(rows, num_links), np.asarray(term, np.int64).reshape(rows, -1)
    no_through = np.asarray(no_through, np.bool_).reshape(rows, n)
    cost, demand = cost.reshape(rows, num_links), demand.reshape(rows, zones, zones)
    flows, sptt, unserved = np.empty((rows, num_links)), np.empty(rows), np.empty(rows)
    for r in range(rows):
        flows[r], sptt[r], unserved[r] = _load(init[r], term[r], no_through[r], cost[r], demand[r])
    return tuple(np.ascontiguousarray(a.reshape(shape)[..., None]).view(np.uint32)
                 for a, shape in ((flows, (*lead, num_links)), (sptt, lead), (unserved, lead)))


def _floats(words) -> np.ndarray:
    """float64 array (...) from its uint32 words (..., 2)."""
    return np.ascontiguousarray(words, np.uint32).view(np.float64)[..., 0]


def _words(x):
    """float64 (...) as uint32 words (..., 2). JAX may run a callback on one of its own threads, where the
    solver's scoped ``enable_x64`` is not in force and float64 arguments and results would be cast to float32;
    bit patterns in 32-bit words cross unchanged."""
    return jax.lax.bitcast_convert_type(x, jnp.uint32)


def all_or_nothing_dijkstra(topo: Topology, cost, demand):
    """Same contract as ``shortest_paths.all_or_nothing`` (float64 only), computed on the host."""
    shapes = (jax.ShapeDtypeStruct((*cost.shape, 2), jnp.uint32), jax.ShapeDtypeStruct((2,), jnp.uint32),
              jax.ShapeDtypeStruct((2,), jnp.uint32))
    out = jax.pure_callback(_host_load, shapes, topo.init, topo.term, topo.no_through, _words(cost), _words(demand),
                            vmap_method="broadcast_all")
    return tuple(jax.lax.bitcast_convert_type(w, jnp.float64) for w in out)
