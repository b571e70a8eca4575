"""All-or-nothing loading on the host (numba), called from the jit-compiled solver.

The pure-JAX loader (``shortest_paths.py``) does Bellman-Ford sweeps over every link for every origin, so
its work grows with zones x links x hop depth; on a CPU that is what limits networks of thousands of links
and hundreds of zones. Two host kernels share its contract:

- ``_load``: one binary-heap Dijkstra per origin over a CSR adjacency, stopped once every destination the
  origin sends demand to is settled; the demand is pushed back up the tree in reverse settling order.
- ``_load_sweeps``: label-correcting sweeps over the links for all origins at once (each link updates a
  contiguous vector of origins, which the compiler vectorises). Faster while the (nodes x zones) label matrix
  stays in cache and the trees are shallow (Anaheim: 416 x 40 labels, 12 sweeps: ~2.5x faster than
  ``_load``); slower on big all-zone networks (a 24 x 24 grid city, 576 zones), where Dijkstra wins. The
  solver's ``"auto"`` picks between them by the size of that matrix (``solver._loader``).

The solver reaches them through ``jax.pure_callback``, so the Frank-Wolfe loop stays one compiled
``while_loop``. Each call's inputs cross as one uint32 array and its outputs as another (``_pack``): the
callback's fixed cost grows with its number of arguments (a host copy each), and the float64 values travel as
their bit patterns, since JAX may run a callback on one of its own threads, where the solver's scoped
``enable_x64`` is not in force and float64 arguments and results would be cast to float32.
"""

from __future__ import annotations

from functools import partial

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
    """(flows (L,), sptt, unserved) of ``demand`` (Z, Z) on shortest paths; cost inf marks a closed link.

    One Dijkstra per origin on a binary heap of (distance, node) entries held in two arrays, pushed anew on
    every strict improvement of a label and skipped when popped stale (as with ``heapq``, whose order, by
    distance and then node number, it keeps: nodes settle in the same order with the same predecessors).
    An origin's search ends once every zone it sends demand to is settled: the paths to them are final."""
    n = no_through.shape[0]
    zones = demand.shape[0]
    start, order = _adjacency(init, n)
    heads = term[order]
    link_cost = cost[order]
    flows = np.zeros(cost.shape[0])
    dist = np.empty(n)
    pred = np.empty(n, np.int64)
    settled = np.empty(n, np.int64)
    done = np.empty(n, np.bool_)
    heap_key = np.empty(cost.shape[0] + 1)  # at most one entry per improvement: one per link, plus the origin
    heap_node = np.empty(cost.shape[0] + 1, np.int64)
    through = np.empty(n)
    sptt = 0.0
    unserved = 0.0
    for origin in range(zones):
        wanted = 0
        for dest in range(zones):
            wanted += demand[origin, dest] > 0
        if wanted == 0:
            continue
        dist[:] = np.inf
        pred[:] = -1
        done[:] = False
        dist[origin] = 0.0
        heap_key[0], heap_node[0] = 0.0, origin
        size = 1
        count = 0
        while size > 0:
            d, v = heap_key[0], heap_node[0]
            size -= 1
            if size > 0:  # move the last entry to the root and sift it down
                key, node = heap_key[size], heap_node[size]
                i = 0
                while True:
                    child = 2 * i + 1
                    if child >= size:
                        break
                    right = child + 1
                    if right < size and (heap_key[right] < heap_key[child] or (
                            heap_key[right] == heap_key[child] and heap_node[right] < heap_node[child])):
                        child = right
                    if heap_key[child] < key or (heap_key[child] == key and heap_node[child] < node):
                        heap_key[i], heap_node[i] = heap_key[child], heap_node[child]
                        i = child
                    else:
                        break
                heap_key[i], heap_node[i] = key, node
            if done[v]:
                continue
            done[v] = True
            settled[count] = v
            count += 1
            if v < zones and demand[origin, v] > 0:
                wanted -= 1
                if wanted == 0:
                    break
            if v != origin and no_through[v]:
                continue
            for k in range(start[v], start[v + 1]):
                head = heads[k]
                nd = d + link_cost[k]
                if nd < dist[head]:
                    dist[head] = nd
                    pred[head] = order[k]
                    i = size  # push (nd, head): sift up from a new last slot
                    size += 1
                    while i > 0:
                        parent = (i - 1) >> 1
                        if nd < heap_key[parent] or (nd == heap_key[parent] and head < heap_node[parent]):
                            heap_key[i], heap_node[i] = heap_key[parent], heap_node[parent]
                            i = parent
                        else:
                            break
                    heap_key[i], heap_node[i] = nd, head
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


@njit(cache=True)
def _sweep_all(init, term, blocked_tail, cost, dist):
    """Label-correcting sweeps over the links, all origins at once, until no label improves.

    ``dist`` (N, W): each node's label for each origin (a row per node, so one link updates a contiguous
    vector of origins). In-place (Gauss-Seidel) updates, sweeping the links forwards then backwards, carry a
    label along many links per sweep."""
    num_links = cost.shape[0]
    width = dist.shape[1]
    forward = False
    changed = True
    while changed:
        changed = False
        forward = not forward
        for k in range(num_links):
            link = k if forward else num_links - 1 - k
            if blocked_tail[link]:
                continue
            c = cost[link]
            dt = dist[init[link]]
            dh = dist[term[link]]
            better = False
            for o in range(width):
                cand = dt[o] + c
                better |= cand < dh[o]
                dh[o] = min(cand, dh[o])
            changed |= better


@njit(cache=True)
def _load_sweeps(init, term, no_through, cost, demand):
    """``_load``'s contract by label-correcting sweeps vectorised over origins (``_sweep_all``) instead of one
    Dijkstra per origin.

    Same trees as the pure-JAX loader (``shortest_paths._tree``): the labels are the same fixed point, and a
    node's tree link is the highest-numbered link on which its label is tight. Each OD demand is then walked
    up its origin's tree (a tight-link cycle needs zero-cost links around it: refused, not looped)."""
    n = no_through.shape[0]
    zones = demand.shape[0]
    width = (zones + 3) // 4 * 4  # whole vectors of four float64
    num_links = cost.shape[0]
    dist = np.full((n, width), np.inf)
    for o in range(zones):
        dist[o, o] = 0.0
    blocked_tail = np.empty(num_links, np.bool_)
    for link in range(num_links):
        tail = init[link]
        blocked_tail[link] = no_through[tail]
        # a link out of a blocked node serves only the paths that start there: relaxed once, for that origin
        if no_through[tail] and tail < zones and cost[link] < dist[term[link], tail]:
            dist[term[link], tail] = cost[link]
    _sweep_all(init, term, blocked_tail, cost, dist)
    pred = np.full((n, width), -1, np.int32)
    for link in range(num_links):  # ascending, so the highest tight link wins
        c = cost[link]
        dt = dist[init[link]]
        dh = dist[term[link]]
        ph = pred[term[link]]
        if blocked_tail[link]:
            tail = init[link]
            if tail < zones and c == dh[tail] and np.isfinite(c):
                ph[tail] = link
            continue
        for o in range(width):
            cand = dt[o] + c
            if cand == dh[o] and cand < np.inf:
                ph[o] = link
    flows = np.zeros(num_links)
    sptt = 0.0
    unserved = 0.0
    for origin in range(zones):
        for dest in range(zones):
            amount = demand[origin, dest]
            if amount > 0:
                if np.isfinite(dist[dest, origin]):
                    sptt += amount * dist[dest, origin]
                    v = dest
                    hops = 0
                    while v != origin:
                        link = pred[v, origin]
                        flows[link] += amount
                        v = init[link]
                        hops += 1
                        if hops > n:
                            raise ValueError("zero-cost cycle of tight links: no shortest-path tree")
                else:
                    unserved += amount
    return flows, sptt, unserved


def _layout(num_links: int, num_nodes: int, zones: int) -> tuple[int, int, int, int, int]:
    """Offsets in a packed row (uint32 words) of the demand, init, term and no_through parts, and its length.

    A row is [cost (2L) | demand (2 Z^2) | init (L) | term (L) | no_through (N) | pad]: the float64 parts first,
    so they start 8-byte aligned, and an even length, so every row of a batch does too."""
    at_demand = 2 * num_links
    at_init = at_demand + 2 * zones * zones
    at_term = at_init + num_links
    at_block = at_term + num_links
    return at_demand, at_init, at_term, at_block, (at_block + num_nodes + 1) // 2 * 2


def _pack(topo: Topology, cost, demand):
    """``_load``'s inputs as one uint32 row (``_layout``): the float64 ones by their bit patterns."""
    num_links, num_nodes, zones = cost.shape[-1], topo.no_through.shape[-1], demand.shape[-1]
    length = _layout(num_links, num_nodes, zones)[-1]
    row = jnp.concatenate([_words(cost).reshape(-1), _words(demand).reshape(-1),
                           jax.lax.bitcast_convert_type(topo.init.astype(jnp.int32), jnp.uint32),
                           jax.lax.bitcast_convert_type(topo.term.astype(jnp.int32), jnp.uint32),
                           topo.no_through.astype(jnp.uint32)])
    return jnp.pad(row, (0, length - row.shape[0]))


def _host_load(kernel, num_links, num_nodes, zones, packed):
    """``kernel`` (``_load`` or ``_load_sweeps``) on packed rows (``_pack``); under ``vmap`` they carry leading
    batch axes (broadcast_all), solved one by one here. Returns rows [flows (2L) | sptt (2) | unserved (2)] of
    float64 bit patterns as uint32 words."""
    at_demand, at_init, at_term, at_block, length = _layout(num_links, num_nodes, zones)
    packed = np.ascontiguousarray(packed, np.uint32)
    lead = packed.shape[:-1]
    rows = packed.reshape(-1, length)
    out = np.empty((rows.shape[0], num_links + 2))
    for r in range(rows.shape[0]):
        row = rows[r]
        flows, sptt, unserved = kernel(row[at_init:at_term].view(np.int32), row[at_term:at_block].view(np.int32),
                                       row[at_block:at_block + num_nodes] != 0, row[:at_demand].view(np.float64),
                                       row[at_demand:at_init].view(np.float64).reshape(zones, zones))
        out[r, :num_links] = flows
        out[r, num_links] = sptt
        out[r, num_links + 1] = unserved
    return out.view(np.uint32).reshape(*lead, 2 * (num_links + 2))


def _words(x):
    """float64 (...) as uint32 words (..., 2): bit patterns cross a callback unchanged (see the module doc)."""
    return jax.lax.bitcast_convert_type(x, jnp.uint32)


def _on_host(kernel, topo: Topology, cost, demand):
    num_links, num_nodes, zones = cost.shape[-1], topo.no_through.shape[-1], demand.shape[-1]
    out = jax.pure_callback(partial(_host_load, kernel, num_links, num_nodes, zones),
                            jax.ShapeDtypeStruct((2 * (num_links + 2),), jnp.uint32), _pack(topo, cost, demand),
                            vmap_method="broadcast_all")
    values = jax.lax.bitcast_convert_type(out.reshape(num_links + 2, 2), jnp.float64)
    return values[:num_links], values[num_links], values[num_links + 1]


def all_or_nothing_dijkstra(topo: Topology, cost, demand):
    """Same contract as ``shortest_paths.all_or_nothing`` (float64 only), computed on the host by Dijkstra."""
    return _on_host(_load, topo, cost, demand)


def all_or_nothing_sweeps(topo: Topology, cost, demand):
    """Same contract, computed on the host by label-correcting sweeps over all origins at once."""
    return _on_host(_load_sweeps, topo, cost, demand)
