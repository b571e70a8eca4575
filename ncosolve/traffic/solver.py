"""User-equilibrium traffic assignment: conjugate Frank-Wolfe methods, jit-compiled and vmap-batched.

``bfw`` is the bi-conjugate Frank-Wolfe method of Mitradjieva & Lindberg (2013): each search target mixes
the all-or-nothing flows with the two previous targets so that successive directions are conjugate under
the Beckmann Hessian; ``cfw`` uses one previous target, ``fw`` none. The step is an exact line search
(safeguarded Newton on the directional derivative). Everything runs in float64 under a scoped ``jax.enable_x64``,
so the rest of the process keeps JAX's defaults.
"""

from __future__ import annotations

import weakref
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ncosolve.errors import InvalidInstance
from ncosolve.traffic.bpr import beckmann, link_time_slopes, link_times, link_times_and_slopes
from ncosolve.traffic.dijkstra import all_or_nothing_dijkstra, all_or_nothing_sweeps
from ncosolve.traffic.shortest_paths import all_or_nothing
from ncosolve.traffic.types import EquilibriumResult, Scenario, Topology, UEState

ALGORITHMS = {"fw": 0, "cfw": 1, "bfw": 2}  # how many previous targets a direction may conjugate with
LINE_SEARCH_STEPS = 48                      # most line-search steps (each at worst halves the bracket)
LINE_SEARCH_TOL = 2.0 ** -48                # step size resolved to this
RESTART_STEP = 1.0 - 1e-7                   # a full step ends the conjugate sequence (directions degenerate)
MAX_CHUNK = 64                              # designs per compiled batch; bigger batches run in chunks
HOST_PATHS_FROM = 12_000                    # zones x links from which "auto" loads on the host on a CPU
SWEEP_LABELS_UP_TO = 2 ** 15                # nodes x zones up to which "auto" takes the host sweeps over Dijkstra
LOADERS = {"bellman-ford": all_or_nothing, "dijkstra": all_or_nothing_dijkstra, "sweeps": all_or_nothing_sweeps}


def _safe_div(num, den):
    return jnp.where(den != 0, num / jnp.where(den != 0, den, 1.0), 0.0)


def _line_search(topo, scen, flows, direction):
    """Step in [0, 1] minimising the Beckmann function along ``direction``: the root of its derivative
    phi'(tau) = direction . t(flows + tau direction), which increases with tau. 1 when phi'(1) <= 0; else
    safeguarded Newton steps from 0 (phi'' = sum direction^2 t', both from one power per link,
    ``link_times_and_slopes``) inside the bracket [lo, hi] around the root, halving the bracket instead whenever
    a step would leave it, until a step or the bracket is at most ``LINE_SEARCH_TOL``.

    A bisection to the same resolution takes ``LINE_SEARCH_STEPS`` + 1 evaluations (a power per link each);
    this takes a handful, and two when the full step is taken."""
    def derivatives(tau):
        times, slopes = link_times_and_slopes(topo, scen, flows + tau * direction)
        return jnp.dot(direction, times), jnp.dot(direction * direction, slopes)

    def newton(carry):
        lo, hi, tau, g, h, _, count = carry
        lo, hi = jnp.where(g > 0, lo, tau), jnp.where(g > 0, tau, hi)
        step = tau - _safe_div(g, h)
        nxt = jnp.where((h > 0) & (step > lo) & (step < hi), step, 0.5 * (lo + hi))
        settled = (jnp.abs(nxt - tau) <= LINE_SEARCH_TOL) | (hi - lo <= LINE_SEARCH_TOL)
        g_next, h_next = derivatives(nxt)
        return lo, hi, nxt, g_next, h_next, settled | (g_next == 0), count + 1

    def more(carry):
        return ~carry[5] & (carry[6] < LINE_SEARCH_STEPS)

    zero, one = jnp.zeros(()), jnp.ones(())
    full = derivatives(one)[0] <= 0
    g0, h0 = derivatives(zero)
    init = (zero, one, zero, g0, h0, full | (g0 >= 0), jnp.zeros((), jnp.int32))
    tau = jax.lax.while_loop(more, newton, init)[2]
    return jnp.where(full, 1.0, jnp.clip(tau, 0.0, 1.0))


def _target(topo, scen, state, aon, depth):
    """Search target of the next step: all-or-nothing flows ``aon`` (FW), or a conjugate mix (CFW / BFW)."""
    x, s1, s2, tau1 = state.flows, state.target1, state.target2, state.step
    hess = link_time_slopes(topo, scen, x)
    # CFW: s = a s1 + (1 - a) y with (s - x) conjugate to the previous direction.
    d1 = s1 - x
    alpha = _safe_div(jnp.dot(d1, hess * (aon - x)), jnp.dot(d1, hess * (aon - s1)))
    alpha = jnp.clip(alpha, 0.0, 1.0 - 1e-6)
    cfw = alpha * s1 + (1.0 - alpha) * aon
    # BFW: s = b0 y + b1 s1 + b2 s2 with (s - x) conjugate to the two previous directions.
    d2 = tau1 * s1 - x + (1.0 - tau1) * s2
    mu = jnp.maximum(0.0, -_safe_div(jnp.dot(d2, hess * (aon - x)), jnp.dot(d2, hess * (s2 - s1))))
    nu = jnp.maximum(0.0, -_safe_div(jnp.dot(d1, hess * (aon - x)), jnp.dot(d1, hess * d1))
                     + mu * tau1 / (1.0 - tau1))
    b0 = 1.0 / (1.0 + mu + nu)
    bfw = b0 * aon + nu * b0 * s1 + mu * b0 * s2
    return jnp.where(depth == 0, aon, jnp.where(depth == 1, cfw, bfw))


def solve_scenario(topo: Topology, scen: Scenario, tol, max_iter, conjugacy: int, paths: str = "bellman-ford"):
    """UE of one scenario; returns (flows, times, tstt, beckmann, relative_gap, iterations, unserved demand)."""
    load = LOADERS[paths]
    free_cost = jnp.where(scen.is_open, topo.free_flow_time, jnp.inf)
    x0, _, unserved = load(topo, free_cost, scen.demand)
    state = UEState(x0, x0, x0, jnp.ones(()), jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                    jnp.array(jnp.inf), jnp.zeros(()), jnp.array(False))

    def step(state):
        x = state.flows
        times = link_times(topo, scen, x)
        aon, sptt, _ = load(topo, jnp.where(scen.is_open, times, jnp.inf), scen.demand)
        tstt = jnp.dot(times, x)
        gap = (tstt - sptt) / tstt
        done = (gap <= tol) | (state.iteration >= max_iter)
        depth = jnp.minimum(state.depth, conjugacy)
        target = _target(topo, scen, state, aon, depth)
        descent = jnp.dot(times, target - x) < 0
        target = jnp.where(descent, target, aon)
        used_fw = (depth == 0) | ~descent
        tau = _line_search(topo, scen, x, target - x)
        next_depth = jnp.where(tau >= RESTART_STEP, 0, jnp.where(used_fw, 1, state.depth + 1))
        moved = UEState(x + tau * (target - x), target, state.target1, tau, state.iteration + 1,
                        next_depth.astype(jnp.int32), gap, tstt, done)
        stay = state._replace(gap=gap, tstt=tstt, done=done)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), stay, moved)

    state = jax.lax.while_loop(lambda s: ~s.done, step, state)
    x = state.flows
    return (x, link_times(topo, scen, x), state.tstt, beckmann(topo, scen, x), state.gap, state.iteration,
            unserved)


_solve_one = jax.jit(solve_scenario, static_argnames=("conjugacy", "paths"))


@partial(jax.jit, static_argnames=("conjugacy", "paths"))
def _solve_many(topo, scens, tol, max_iter, conjugacy, paths):
    return jax.vmap(lambda s: solve_scenario(topo, s, tol, max_iter, conjugacy, paths))(scens)


_TOPOLOGIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def topology(network) -> Topology:
    """The network's fixed arrays as a (cached) ``Topology`` pytree of float64/int32 JAX arrays."""
    if network not in _TOPOLOGIES:
        with jax.enable_x64(True):
            _TOPOLOGIES[network] = Topology(
                jnp.asarray(network.init, jnp.int32), jnp.asarray(network.term, jnp.int32),
                jnp.asarray(network.free_flow_time), jnp.asarray(network.b), jnp.asarray(network.power),
                jnp.asarray(network.no_through()))
    return _TOPOLOGIES[network]


def _conjugacy(algorithm: str) -> int:
    if algorithm not in ALGORITHMS:
        raise InvalidInstance(f"algorithm: {algorithm!r} is not one of {sorted(ALGORITHMS)}")
    return ALGORITHMS[algorithm]


def _loader(paths: str, network) -> str:
    """The all-or-nothing loader (``LOADERS``). ``"auto"``: on an accelerator, or on a CPU for a small network
    (zones x links below ``HOST_PATHS_FROM``), the pure-JAX Bellman-Ford sweeps (no host round trip: faster on
    SiouxFalls and 7 x 7 grid cities, and vmapped batches stay on the accelerator); otherwise a host kernel
    (``dijkstra.py``): the sweeps vectorised over origins while their (nodes x zones) label matrix has at most
    ``SWEEP_LABELS_UP_TO`` entries (per load 1.4x faster than Dijkstra on EMA, 2x on Anaheim), Dijkstra above
    (all-zone grid cities of 256 zones and more, where the sweeps fall out of cache and lose)."""
    if paths == "auto":
        if jax.default_backend() != "cpu" or network.num_zones * network.num_links < HOST_PATHS_FROM:
            return "bellman-ford"
        return "sweeps" if network.num_nodes * network.num_zones <= SWEEP_LABELS_UP_TO else "dijkstra"
    if paths not in LOADERS:
        raise InvalidInstance(f"paths: {paths!r} is not one of {['auto', *LOADERS]}")
    return paths


def _check_served(unserved) -> None:
    if np.any(np.asarray(unserved) > 0):
        raise InvalidInstance("demand: some OD demand has no open path in this network (design)")


def equilibrium(network, tol: float = 1e-5, max_iter: int = 10_000, algorithm: str = "bfw",
                paths: str = "auto") -> EquilibriumResult:
    """User equilibrium of ``network`` to relative gap ``tol`` (TNTP definition: (TSTT - SPTT) / TSTT).

    Parameters
    ----------
    network : ncosolve.problems.network.Network
    tol : stop once the relative gap is at most this.
    max_iter : stop after this many iterations whatever the gap (check ``relative_gap``).
    algorithm : ``"bfw"`` (bi-conjugate Frank-Wolfe, default), ``"cfw"`` (conjugate) or ``"fw"``.
    paths : shortest paths of the all-or-nothing step: ``"auto"`` (see ``_loader``), ``"bellman-ford"`` (pure JAX),
        or on the host ``"sweeps"`` or ``"dijkstra"``.
    """
    conj, paths = _conjugacy(algorithm), _loader(paths, network)
    topo = topology(network)
    with jax.enable_x64(True):
        scen = Scenario(np.asarray(network.capacity, np.float64), np.ones(network.num_links, bool),
                        np.asarray(network.demand, np.float64))
        out = jax.device_get(_solve_one(topo, scen, np.float64(tol), np.int32(max_iter), conjugacy=conj, paths=paths))
    _check_served(out[6])
    return EquilibriumResult(out[0], out[1], float(out[2]), float(out[3]), float(out[4]), int(out[5]))


def equilibrium_batch(network, capacity=None, is_open=None, demand=None, tol: float = 1e-5, max_iter: int = 10_000,
                      algorithm: str = "bfw", vectorize: bool | None = None, paths: str = "auto") -> EquilibriumResult:
    """User equilibria of many variants of ``network``: per-design link ``capacity`` (B, L), ``is_open`` (B, L)
    bool and/or ``demand`` (B, Z, Z); omitted ones are the network's own. Every result field has a leading
    batch axis.

    ``vectorize`` (default: on accelerators, not on CPU) solves the batch with one vmapped kernel, padded to a
    power of two (at most ``MAX_CHUNK`` per compiled call) so repeated calls reuse a few compiled shapes. A
    vmapped loop runs until its slowest design converges, which on a CPU costs more than it saves, so there
    the designs go one by one through the same compiled single-design solver.
    """
    conj, paths = _conjugacy(algorithm), _loader(paths, network)
    sizes = [np.shape(a)[0] for a in (capacity, is_open, demand) if a is not None]
    if not sizes or len(set(sizes)) != 1:
        raise InvalidInstance("equilibrium_batch: give capacity, is_open and/or demand with one common batch size")
    count = sizes[0]
    m, z = network.num_links, network.num_zones
    cap = np.broadcast_to(network.capacity if capacity is None else np.asarray(capacity, np.float64), (count, m))
    opn = np.broadcast_to(True if is_open is None else np.asarray(is_open, bool), (count, m))
    dem = np.broadcast_to(network.demand if demand is None else np.asarray(demand, np.float64), (count, z, z))
    if np.any(cap <= 0) or not np.all(np.isfinite(cap)):
        raise InvalidInstance("capacity: must be positive and finite on every link")
    if np.any(dem < 0) or not np.all(np.isfinite(dem)):
        raise InvalidInstance("demand: must be non-negative and finite")
    topo = topology(network)
    if vectorize is None:
        vectorize = jax.default_backend() != "cpu"
    outs = []
    with jax.enable_x64(True):
        for start in range(0, count if vectorize else 0, MAX_CHUNK):
            stop = min(start + MAX_CHUNK, count)
            width = min(MAX_CHUNK, 1 << (stop - start - 1).bit_length())
            rows = np.minimum(np.arange(start, start + width), stop - 1)  # pad by repeating the last design
            scens = Scenario(jnp.asarray(cap[rows]), jnp.asarray(opn[rows]), jnp.asarray(dem[rows]))
            out = jax.device_get(_solve_many(topo, scens, jnp.float64(tol), jnp.int32(max_iter), conjugacy=conj, paths=paths))
            outs.append([np.asarray(a)[: stop - start] for a in out])
        for row in range(0 if vectorize else count):
            # numpy in: the compiled call's own argument transfer is cheaper than a jnp.asarray each
            scen = Scenario(cap[row], opn[row], dem[row])
            out = jax.device_get(_solve_one(topo, scen, np.float64(tol), np.int32(max_iter), conjugacy=conj, paths=paths))
            outs.append([np.asarray(a)[None] for a in out])
    out = [np.concatenate(parts) for parts in zip(*outs)]
    _check_served(out[6])
    return EquilibriumResult(*out[:6])
