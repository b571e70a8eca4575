"""Road networks with BPR link costs and OD demand, and the three bi-level network design problems over them.

A ``Network`` is what a traffic assignment needs; an ``NDPInstance`` adds a set of binary candidates
(new links, lane additions or lane swaps) with costs and a budget. Its objective is the total travel
time TTT = sum x * t(x) at the user equilibrium of the designed network (``evaluate_ndp``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from ncosolve.errors import InfeasibleSolution, InvalidInstance
from ncosolve.problems._validate import float_array, int_array, whole_number

VARIANTS = ("dndp", "ndp-la", "ndp-ls")

# Relative slack when comparing a design's cost with the budget (costs are sums of file decimals).
BUDGET_RTOL = 1e-9

# Default UE relative gap at which ``evaluate_ndp`` scores a design.
DEFAULT_UE_TOL = 1e-5


@dataclass(frozen=True, eq=False)
class Network:
    """A directed road network: links with BPR times t = t0 (1 + b (x / capacity) ** power), zone-to-zone demand.

    Nodes are 0..num_nodes-1; zones are nodes 0..num_zones-1 (the TNTP convention). Zones with an index
    below ``first_thru_node`` (0-based; TNTP's ``<FIRST THRU NODE>`` minus one) carry no through traffic:
    paths may start or end there but not pass through. ``demand[o, d]`` is the flow from zone o to d.
    """

    num_nodes: int
    init: np.ndarray
    term: np.ndarray
    capacity: np.ndarray
    free_flow_time: np.ndarray
    demand: np.ndarray
    b: np.ndarray | None = None
    power: np.ndarray | None = None
    length: np.ndarray | None = None
    first_thru_node: int = 0
    coords: np.ndarray | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        n = whole_number(self.num_nodes, "num_nodes", 2)
        object.__setattr__(self, "num_nodes", n)
        init = np.asarray(self.init)
        m = init.shape[0] if init.ndim == 1 else -1
        if m < 1:
            raise InvalidInstance(f"init: expected a non-empty 1-D array of link tails, got shape {init.shape}")
        ints = {"init": int_array(self.init, "init", m), "term": int_array(self.term, "term", m)}
        for key, arr in ints.items():
            if np.any(arr < 0) or np.any(arr >= n):
                raise InvalidInstance(f"{key}: node indices must lie in 0..{n - 1}")
            object.__setattr__(self, key, arr)
        if np.any(ints["init"] == ints["term"]):
            raise InvalidInstance(f"init/term: link {int(np.argmax(ints['init'] == ints['term']))} is a self-loop")
        defaults = {"b": 0.15, "power": 4.0, "length": None}
        for key in ("capacity", "free_flow_time", "b", "power", "length"):
            value = getattr(self, key)
            if value is None:
                value = np.full(m, defaults[key] if defaults[key] is not None else 0.0)
            object.__setattr__(self, key, float_array(value, key, (m,)))
        for key in ("capacity", "free_flow_time"):
            if np.any(getattr(self, key) <= 0):
                raise InvalidInstance(f"{key}: must be positive on every link")
        if np.any(self.b < 0):
            raise InvalidInstance("b: must be non-negative")
        if np.any((self.power < 1) & (self.b > 0)):
            raise InvalidInstance("power: must be at least 1 on links with b > 0")
        demand = np.asarray(self.demand, dtype=np.float64)
        if demand.ndim != 2 or demand.shape[0] != demand.shape[1] or not 1 <= demand.shape[0] <= n:
            raise InvalidInstance(f"demand: expected a square (zones, zones) matrix with zones <= {n}, got "
                                  f"{demand.shape}")
        demand = float_array(demand, "demand", demand.shape)
        if np.any(demand < 0):
            raise InvalidInstance("demand: negative entries")
        if np.any(np.diag(demand) != 0):
            demand = demand.copy()
            np.fill_diagonal(demand, 0.0)  # intra-zonal trips never load a link
            demand.setflags(write=False)
        object.__setattr__(self, "demand", demand)
        object.__setattr__(self, "first_thru_node", whole_number(self.first_thru_node, "first_thru_node", 0))
        if not 0 <= self.first_thru_node <= n:
            raise InvalidInstance(f"first_thru_node: must lie in 0..{n}, got {self.first_thru_node}")
        if self.coords is not None:
            object.__setattr__(self, "coords", float_array(self.coords, "coords", (n, 2)))
        self._check_connected()

    @property
    def num_links(self) -> int:
        """Number of directed links."""
        return len(self.init)

    @property
    def num_zones(self) -> int:
        """Number of zones (origins/destinations), the first nodes."""
        return self.demand.shape[0]

    def no_through(self) -> np.ndarray:
        """(num_nodes,) bool: nodes that paths may not pass through (zones below the first through node)."""
        mask = np.zeros(self.num_nodes, dtype=bool)
        mask[: min(self.first_thru_node, self.num_zones)] = True
        return mask

    def _check_connected(self, open_links: np.ndarray | None = None) -> None:
        """Raise InvalidInstance if some OD pair with demand has no path (through-traffic rule honoured)."""
        unreachable = unserved_pairs(self, open_links)
        if unreachable:
            o, d = unreachable[0]
            raise InvalidInstance(f"demand: {len(unreachable)} OD pair(s) with demand have no path, first zone "
                                  f"{o} -> {d} (0-based)")

    def link_times(self, flows, capacity=None):
        """BPR travel time of each link at ``flows`` (any leading batch axes); ``capacity`` overrides the
        network's (a design's capacities)."""
        return bpr_times(flows, self.capacity if capacity is None else capacity, self.free_flow_time, self.b,
                         self.power)

    def total_travel_time(self, flows, capacity=None):
        """TTT = sum over links of x * t(x) at ``flows`` (last axis: links), the network design objective."""
        return (flows * self.link_times(flows, capacity)).sum(-1)

    def with_links(self, capacity: np.ndarray | None = None, demand: np.ndarray | None = None) -> Network:
        """A copy with new link capacities and/or demand (validated)."""
        return replace(self, capacity=self.capacity if capacity is None else capacity,
                       demand=self.demand if demand is None else demand)

    def __repr__(self) -> str:
        return (f"Network(name={self.name!r}, nodes={self.num_nodes}, links={self.num_links}, zones={self.num_zones}, "
                f"total_demand={self.demand.sum():.6g})")


def bpr_times(flows, capacity, free_flow_time, b, power):
    """BPR link times t0 (1 + b (x / c) ** power); plain arithmetic, so it also runs on torch tensors."""
    return free_flow_time * (1.0 + b * (flows / capacity) ** power)


def unserved_pairs(network: Network, open_links: np.ndarray | None = None) -> list[tuple[int, int]]:
    """OD pairs (0-based zones) with positive demand and no path over the open links."""
    blocked = network.no_through()
    keep = np.ones(network.num_links, dtype=bool) if open_links is None else np.asarray(open_links, dtype=bool)
    out = []
    for o in np.flatnonzero(network.demand.sum(axis=1) > 0):
        use = keep & (~blocked[network.init] | (network.init == o))
        graph = csr_matrix((np.ones(int(use.sum())), (network.init[use], network.term[use])),
                           shape=(network.num_nodes, network.num_nodes))
        reached = np.zeros(network.num_nodes, dtype=bool)
        reached[breadth_first_order(graph, int(o), directed=True, return_predecessors=False)] = True
        out += [(int(o), int(d)) for d in np.flatnonzero((network.demand[o] > 0) & ~reached[: network.num_zones])]
    return out


@dataclass(frozen=True, eq=False)
class NDPInstance:
    """A network design problem: choose a 0/1 vector over ``candidate_cost`` within ``budget``.

    ``variant`` is one of
    - ``"dndp"`` (link addition): ``network`` already holds the candidate links, closed unless chosen;
      ``candidate_links[k]`` lists the links candidate k opens (a two-way project opens both; -1 pads);
    - ``"ndp-la"`` (lane addition): candidate k adds a lane to link ``candidate_links[k, 0]``, raising its
      capacity by capacity / lanes;
    - ``"ndp-ls"`` (lane swap, contraflow): candidate k moves one lane of link ``candidate_links[k, 0]`` to its
      reverse link ``candidate_links[k, 1]`` (capacity / lanes of the donor moves); at most one direction of
      a pair may be swapped.
    ``lanes`` (per link, ndp-la/ndp-ls) counts the lanes of each link. The objective is the total travel time
    at user equilibrium, solved to relative gap ``ue_tol``.
    """

    network: Network
    variant: str
    candidate_links: np.ndarray
    candidate_cost: np.ndarray
    budget: float
    lanes: np.ndarray | None = None
    ue_tol: float = DEFAULT_UE_TOL
    name: str | None = None
    base_open: np.ndarray = field(init=False, repr=False)

    problem = "ndp"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise InvalidInstance(f"variant: {self.variant!r} is not one of {VARIANTS}")
        links = np.asarray(self.candidate_links)
        if links.ndim == 1:
            links = links[:, None]
        if links.ndim != 2 or links.shape[0] < 1:
            raise InvalidInstance(f"candidate_links: expected a (candidates, links) array, got shape {links.shape}")
        k = links.shape[0]
        links = np.stack([int_array(col, "candidate_links", k) for col in links.T], axis=1)
        m = self.network.num_links
        if np.any(links >= m) or np.any(links < -1) or np.any(links[:, 0] < 0):
            raise InvalidInstance(f"candidate_links: link indices must lie in 0..{m - 1} (-1 pads)")
        links.setflags(write=False)
        object.__setattr__(self, "candidate_links", links)
        cost = float_array(self.candidate_cost, "candidate_cost", (k,))
        if np.any(cost < 0):
            raise InvalidInstance("candidate_cost: must be non-negative")
        object.__setattr__(self, "candidate_cost", cost)
        if not (np.isfinite(self.budget) and self.budget >= 0):
            raise InvalidInstance(f"budget: must be a non-negative number, got {self.budget!r}")
        object.__setattr__(self, "budget", float(self.budget))
        if not 0 < self.ue_tol < 1:
            raise InvalidInstance(f"ue_tol: must lie in (0, 1), got {self.ue_tol!r}")
        net = self.network
        if self.variant == "dndp":
            chosen = links[links >= 0]
            if len(np.unique(chosen)) != len(chosen):
                raise InvalidInstance("candidate_links: a link belongs to two DNDP candidates")
            base_open = np.ones(m, dtype=bool)
            base_open[chosen] = False
            net._check_connected(base_open)
        else:
            base_open = np.ones(m, dtype=bool)
            lanes = int_array(self.lanes if self.lanes is not None else np.full(m, -1), "lanes", m)
            if np.any(lanes < 1):
                raise InvalidInstance(f"lanes: {self.variant} needs a positive lane count on every link")
            object.__setattr__(self, "lanes", lanes)
            if self.variant == "ndp-ls":
                if links.shape[1] < 2 or np.any(links[:, 1] < 0):
                    raise InvalidInstance("candidate_links: a lane swap needs (donor link, receiving link)")
                a, r = links[:, 0], links[:, 1]
                if np.any(net.init[a] != net.term[r]) or np.any(net.term[a] != net.init[r]):
                    raise InvalidInstance("candidate_links: a lane swap must pair a link with its reverse")
                if np.any(lanes[a] < 2):
                    raise InvalidInstance("lanes: a lane can only be swapped away from a link with 2+ lanes")
        base_open.setflags(write=False)
        object.__setattr__(self, "base_open", base_open)

    @property
    def num_candidates(self) -> int:
        """Number of binary design variables."""
        return len(self.candidate_cost)

    def check_design(self, design) -> np.ndarray:
        """The design as a 0/1 int vector, or InfeasibleSolution (wrong length, not binary, over budget, conflict)."""
        try:
            arr = np.asarray(design, dtype=np.float64)
        except (TypeError, ValueError):
            raise InfeasibleSolution("design: not a 0/1 vector") from None
        if arr.shape != (self.num_candidates,):
            raise InfeasibleSolution(f"design: expected {self.num_candidates} entries, got shape {arr.shape}")
        if not np.all((arr == 0) | (arr == 1)):
            raise InfeasibleSolution("design: entries must be 0 or 1")
        x = arr.astype(np.int64)
        spent = float(self.candidate_cost @ x)
        if spent > self.budget * (1 + BUDGET_RTOL) + 1e-12:
            raise InfeasibleSolution(f"design: cost {spent:.6g} is over the budget {self.budget:.6g}")
        conflict = self.conflicts(x[None])[0]
        if conflict >= 0:
            raise InfeasibleSolution(f"design: candidate {conflict} swaps a lane of a pair already swapped the other "
                                     "way")
        return x

    def conflicts(self, designs: np.ndarray) -> np.ndarray:
        """(B,) first candidate of each design that clashes with another chosen one (ndp-ls reverse swaps), else -1."""
        designs = np.asarray(designs, dtype=bool)
        out = np.full(len(designs), -1, dtype=np.int64)
        if self.variant != "ndp-ls":
            return out
        donors = self.candidate_links[:, 0]
        for k, r in enumerate(self.candidate_links[:, 1]):
            rivals = np.flatnonzero(donors == r)
            if len(rivals):
                bad = designs[:, k] & designs[:, rivals].any(axis=1) & (out < 0)
                out[bad] = k
        return out

    def feasible(self, designs: np.ndarray) -> np.ndarray:
        """(B,) bool: designs within budget and free of conflicts (a vectorised ``check_design``)."""
        designs = np.asarray(designs, dtype=np.float64)
        within = designs @ self.candidate_cost <= self.budget * (1 + BUDGET_RTOL) + 1e-12
        return within & (self.conflicts(designs) < 0)

    def link_arrays(self, designs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(capacity, open) per link, each (B, links), of the networks the (B, candidates) 0/1 designs build."""
        designs = np.atleast_2d(np.asarray(designs, dtype=np.float64))
        net = self.network
        cap = np.broadcast_to(net.capacity, (len(designs), net.num_links)).copy()
        is_open = np.broadcast_to(self.base_open, cap.shape).copy()
        links = self.candidate_links
        if self.variant == "dndp":
            for col in links.T:
                ok = col >= 0
                is_open[:, col[ok]] |= designs[:, ok] > 0
        else:
            donor = links[:, 0]
            moved = designs * (net.capacity[donor] / self.lanes[donor])  # (B, K) capacity each chosen lane carries
            for k in range(self.num_candidates):
                if self.variant == "ndp-la":
                    cap[:, donor[k]] += moved[:, k]
                else:
                    cap[:, donor[k]] -= moved[:, k]
                    cap[:, links[k, 1]] += moved[:, k]
        return cap, is_open

    def __repr__(self) -> str:
        return (f"NDPInstance(name={self.name!r}, variant={self.variant!r}, candidates={self.num_candidates}, "
                f"budget={self.budget:.6g}, network={self.network!r})")


def evaluate_ndp(instance: NDPInstance, design) -> float:
    """Total travel time at user equilibrium of the designed network; InfeasibleSolution if over budget."""
    return float(evaluate_designs(instance, instance.check_design(design)[None])[0])


def evaluate_designs(instance: NDPInstance, designs, tol: float | None = None) -> np.ndarray:
    """(B,) TTT at user equilibrium of each (B, candidates) 0/1 design (batched); inf where infeasible.

    ``tol`` overrides the instance's ``ue_tol`` (searches may screen at a looser gap).
    """
    from ncosolve.traffic.solver import equilibrium_batch

    designs = np.atleast_2d(np.asarray(designs, dtype=np.int64))
    out = np.full(len(designs), np.inf)
    ok = instance.feasible(designs)
    if ok.any():
        cap, is_open = instance.link_arrays(designs[ok])
        out[ok] = equilibrium_batch(instance.network, cap, is_open, tol=instance.ue_tol if tol is None else tol).tstt
    return out


def prepare_equilibrium(instance: NDPInstance) -> None:
    """Compile the UE solver for ``instance``'s network (one design at a loose gap): methods' one-time cost."""
    evaluate_designs(instance, np.zeros((1, instance.num_candidates), dtype=np.int64), tol=1e-2)
