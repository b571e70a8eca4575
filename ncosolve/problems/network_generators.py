"""Seeded synthetic city networks and network design instances (no TransportationNetworks data needed).

Networks are grids or ring-radial cities of two-way streets; every node is a zone, with a gravity-model
demand between zones. Link speed and capacity come from a street class (arterial or local), lengths from
the node coordinates (km), free-flow times in minutes, BPR b = 0.15 and power 4 as in the TNTP networks.
"""

from __future__ import annotations

import numpy as np

from ncosolve.errors import InvalidInstance
from ncosolve.problems.network import NDPInstance, Network

# Street classes: (capacity veh/h, speed km/h, lanes).
ARTERIAL = (3600.0, 50.0, 4)
LOCAL = (1400.0, 30.0, 2)


def _two_way(pairs: list[tuple[int, int]]) -> np.ndarray:
    """(2 * len(pairs), 2) directed links, each street as consecutive (i, j), (j, i)."""
    return np.asarray([d for i, j in pairs for d in ((i, j), (j, i))], dtype=np.int64)


def _gravity_demand(rng: np.random.Generator, coords: np.ndarray, trips_per_zone: float) -> np.ndarray:
    """Zone-to-zone demand ~ population_o * population_d / distance, scaled to ``trips_per_zone`` on average."""
    n = len(coords)
    pop = rng.lognormal(0.0, 0.5, n)
    dist = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    with np.errstate(divide="ignore"):
        demand = np.where(dist > 0, np.outer(pop, pop) / np.maximum(dist, 1e-9), 0.0)
    return np.round(demand * (trips_per_zone * n / demand.sum()), 1)


def _network(rng, coords, pairs, arterial, trips_per_zone, name) -> tuple[Network, np.ndarray]:
    """The network of two-way streets ``pairs`` (bool ``arterial`` per street), and its lanes per link."""
    links = _two_way(pairs)
    cls = np.repeat(np.where(arterial, 0, 1), 2)
    table = np.asarray([ARTERIAL, LOCAL])
    capacity, speed, lanes = table[cls, 0], table[cls, 1], table[cls, 2].astype(np.int64)
    length = np.linalg.norm(coords[links[:, 0]] - coords[links[:, 1]], axis=1)
    net = Network(num_nodes=len(coords), init=links[:, 0], term=links[:, 1], capacity=capacity, length=length,
                  free_flow_time=60.0 * length / speed, demand=_gravity_demand(rng, coords, trips_per_zone),
                  coords=coords, name=name)
    return net, lanes


def grid_city(rows: int = 4, cols: int = 4, seed: int = 0, block_km: float = 1.0,
              trips_per_zone: float = 600.0) -> tuple[Network, np.ndarray]:
    """A ``rows`` x ``cols`` street grid (every node a zone), every third street line an arterial.

    Returns (network, lanes per link). Coordinates are jittered by up to 20% of a block.
    """
    if rows < 2 or cols < 2:
        raise InvalidInstance(f"grid_city: need at least 2 x 2 nodes, got {rows} x {cols}")
    rng = np.random.default_rng(seed)
    r, c = np.divmod(np.arange(rows * cols), cols)
    coords = np.stack([c, r], axis=1) * block_km + rng.uniform(-0.2, 0.2, (rows * cols, 2)) * block_km
    pairs, arterial = [], []
    for v in range(rows * cols):
        if c[v] + 1 < cols:
            pairs.append((v, v + 1))
            arterial.append(r[v] % 3 == 1)
        if r[v] + 1 < rows:
            pairs.append((v, v + cols))
            arterial.append(c[v] % 3 == 1)
    return _network(rng, coords, pairs, np.asarray(arterial), trips_per_zone, f"grid{rows}x{cols}-s{seed}")


def ring_radial_city(rings: int = 2, spokes: int = 6, seed: int = 0, ring_km: float = 1.5,
                     trips_per_zone: float = 600.0) -> tuple[Network, np.ndarray]:
    """A centre node with ``spokes`` radial arterials crossing ``rings`` ring roads (every node a zone).

    Returns (network, lanes per link). Radials are arterials, rings local streets.
    """
    if rings < 1 or spokes < 3:
        raise InvalidInstance(f"ring_radial_city: need rings >= 1 and spokes >= 3, got {rings}, {spokes}")
    rng = np.random.default_rng(seed)
    angle = 2 * np.pi * (np.arange(spokes) + rng.uniform(-0.15, 0.15, spokes)) / spokes
    radius = ring_km * np.arange(1, rings + 1)
    coords = np.concatenate([[[0.0, 0.0]], (radius[:, None, None] * np.stack([np.cos(angle), np.sin(angle)], -1)[None])
                            .reshape(-1, 2)])

    def node(ring, spoke):
        return 1 + ring * spokes + spoke % spokes

    pairs, arterial = [], []
    for s in range(spokes):
        pairs.append((0, node(0, s)))
        arterial.append(True)
        for ring in range(rings):
            pairs.append((node(ring, s), node(ring, s + 1)))
            arterial.append(False)
            if ring + 1 < rings:
                pairs.append((node(ring, s), node(ring + 1, s)))
                arterial.append(True)
    return _network(rng, coords, pairs, np.asarray(arterial), trips_per_zone, f"ring{rings}x{spokes}-s{seed}")


def perturb_demand(demand: np.ndarray, seed: int = 0, rel_std: float = 0.2, count: int | None = None) -> np.ndarray:
    """Demand drawn entrywise from N(d, (rel_std d)^2), clipped at zero; ``count`` stacks that many draws."""
    rng = np.random.default_rng(seed)
    shape = demand.shape if count is None else (count, *demand.shape)
    return np.maximum(0.0, demand + rel_std * demand * rng.standard_normal(shape))


def dndp_instance(network: Network, num_candidates: int = 10, seed: int = 0, budget_ratio: float = 0.5,
                  cost_per_km: float = 100.0) -> NDPInstance:
    """A DNDP instance: ``num_candidates`` new two-way streets between nodes not yet joined (nearest first).

    New streets are arterials; cost = ``cost_per_km`` x length; budget = ``budget_ratio`` x total cost.
    Needs coordinates (the synthetic networks have them).
    """
    if network.coords is None:
        raise InvalidInstance("dndp_instance: the network needs coordinates to place new streets")
    rng = np.random.default_rng(seed)
    xy = network.coords
    joined = set(zip(network.init.tolist(), network.term.tolist()))
    n = network.num_nodes
    i, j = np.triu_indices(n, 1)
    free = np.asarray([(a, b) not in joined and (b, a) not in joined for a, b in zip(i, j)])
    dist = np.linalg.norm(xy[i] - xy[j], axis=1)
    order = np.argsort(dist + rng.uniform(0, 1e-6, len(dist)))
    pool = order[free[order]][: 3 * num_candidates]
    if len(pool) < num_candidates:
        raise InvalidInstance(f"dndp_instance: only {len(pool)} node pairs are free for new streets")
    pick = np.sort(rng.choice(pool, num_candidates, replace=False))
    links = _two_way(list(zip(i[pick].tolist(), j[pick].tolist())))
    cap, speed, _ = ARTERIAL
    length = np.linalg.norm(xy[links[:, 0]] - xy[links[:, 1]], axis=1)
    m = network.num_links
    grown = Network(num_nodes=n, init=np.concatenate([network.init, links[:, 0]]),
                    term=np.concatenate([network.term, links[:, 1]]),
                    capacity=np.concatenate([network.capacity, np.full(len(links), cap)]),
                    length=np.concatenate([network.length, length]),
                    free_flow_time=np.concatenate([network.free_flow_time, 60.0 * length / speed]),
                    b=np.concatenate([network.b, np.full(len(links), 0.15)]),
                    power=np.concatenate([network.power, np.full(len(links), 4.0)]),
                    demand=network.demand, first_thru_node=network.first_thru_node, coords=xy, name=network.name)
    cost = cost_per_km * length[::2]
    return NDPInstance(network=grown, variant="dndp", candidate_links=m + np.arange(len(links)).reshape(-1, 2),
                       candidate_cost=cost, budget=budget_ratio * cost.sum(), name=f"{network.name}-dndp{num_candidates}")


def _default_lanes(network: Network) -> np.ndarray:
    """2 lanes below the median capacity, 4 at or above it."""
    return np.where(network.capacity >= np.median(network.capacity), 4, 2)


def lane_addition_instance(network: Network, lanes: np.ndarray | None = None, budget_ratio: float = 0.5,
                           links: np.ndarray | None = None) -> NDPInstance:
    """NDP-LA: one candidate per link (or per ``links``), adding capacity / lanes at cost t0 x capacity."""
    lanes = _default_lanes(network) if lanes is None else np.asarray(lanes)
    links = np.arange(network.num_links) if links is None else np.asarray(links)
    cost = network.free_flow_time[links] * network.capacity[links]
    return NDPInstance(network=network, variant="ndp-la", candidate_links=links[:, None], candidate_cost=cost,
                       budget=budget_ratio * cost.sum(), lanes=lanes, name=f"{network.name}-la{budget_ratio:g}")


def lane_swap_instance(network: Network, lanes: np.ndarray | None = None, budget_ratio: float = 0.5,
                       max_pairs: int | None = None, seed: int = 0) -> NDPInstance:
    """NDP-LS: for two-way street pairs (up to ``max_pairs``, chosen at random), both directions of moving one lane
    of a link to its reverse; cost = t0 x the capacity moved; budget = ``budget_ratio`` x total cost.
    """
    lanes = _default_lanes(network) if lanes is None else np.asarray(lanes)
    index = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(network.init, network.term))}
    pairs = [(k, index[(b, a)]) for (a, b), k in index.items() if a < b and (b, a) in index]
    if max_pairs is not None and len(pairs) > max_pairs:
        pick = np.random.default_rng(seed).choice(len(pairs), max_pairs, replace=False)
        pairs = [pairs[p] for p in np.sort(pick)]
    moves = np.asarray([m for k, r in pairs for m in ((k, r), (r, k)) if lanes[m[0]] >= 2], dtype=np.int64)
    if len(moves) == 0:
        raise InvalidInstance("lane_swap_instance: no two-way pair has a link with 2+ lanes")
    donor = moves[:, 0]
    cost = network.free_flow_time[donor] * network.capacity[donor] / lanes[donor]
    return NDPInstance(network=network, variant="ndp-ls", candidate_links=moves, candidate_cost=cost,
                       budget=budget_ratio * cost.sum(), lanes=lanes, name=f"{network.name}-ls{budget_ratio:g}")


def braess(with_shortcut: bool = True) -> NDPInstance:
    """The shipped Braess network as a DNDP instance whose one candidate is the shortcut 3 -> 4 (budget covers it).

    Building it raises the equilibrium TTT from 498 to 552: the optimum is to leave it out.
    """
    from ncosolve.benchmarks import data_dir
    from ncosolve.io.tntp import read_tntp

    net = read_tntp(data_dir() / "networks" / "Braess_net.tntp")
    return NDPInstance(network=net, variant="dndp", candidate_links=np.array([[3, -1]]), candidate_cost=[1.0],
                       budget=1.0 if with_shortcut else 0.0, name="Braess-dndp")


def random_design_instance(seed: int, variant: str | None = None) -> NDPInstance:
    """A random congested synthetic instance for training learned methods: a 3-5 x 3-5 grid or a 1-3 ring (2-3
    for DNDP) x 4-7 spoke city, 1,500-4,000 trips per zone (v/c around 1-2), and a DNDP (6-12 candidates),
    NDP-LA (every link) or NDP-LS (up to 10 pairs) candidate set at budget ratio 0.25-0.75 (``variant`` fixes it).
    """
    rng = np.random.default_rng(seed)
    variant = variant or str(rng.choice(["dndp", "ndp-la", "ndp-ls"]))
    sub = int(rng.integers(2**31))
    trips = float(rng.uniform(1500.0, 4000.0))
    if rng.random() < 0.5:
        net, lanes = grid_city(int(rng.integers(3, 6)), int(rng.integers(3, 6)), seed=sub, trips_per_zone=trips)
    else:  # a DNDP needs 2+ rings for enough free node pairs
        net, lanes = ring_radial_city(int(rng.integers(1 + (variant == "dndp"), 4)), int(rng.integers(4, 8)),
                                      seed=sub, trips_per_zone=trips)
    budget = float(rng.uniform(0.25, 0.75))
    if variant == "dndp":
        return dndp_instance(net, int(rng.integers(6, 13)), seed=sub, budget_ratio=budget)
    if variant == "ndp-la":
        return lane_addition_instance(net, lanes, budget_ratio=budget)
    return lane_swap_instance(net, lanes, budget_ratio=budget, max_pairs=10, seed=sub)
