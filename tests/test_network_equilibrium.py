"""The JAX user-equilibrium solver: Braess numbers, best-known SiouxFalls/Anaheim values, batching, no retracing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ncosolve.errors import InvalidInstance
from ncosolve.io.tntp import read_flows, read_tntp
from ncosolve.problems.network_generators import braess, grid_city, perturb_demand
from ncosolve.traffic import equilibrium, equilibrium_batch
from ncosolve.traffic.solver import _solve_many, _solve_one

TNTP = Path(__file__).resolve().parents[2] / "shared" / "data" / "tntp"
needs_tntp = pytest.mark.skipif(not (TNTP / "SiouxFalls_net.tntp").is_file(),
                                reason=f"TransportationNetworks data not found in {TNTP} (academic licence: not shipped)")


PATHS = pytest.mark.parametrize("paths", ["bellman-ford", "dijkstra"])


@PATHS
def test_braess_equilibrium_with_and_without_the_shortcut(paths):
    inst = braess()
    with_link = equilibrium(inst.network, tol=1e-10, paths=paths)
    np.testing.assert_allclose(with_link.flows, [4, 2, 2, 2, 4], atol=1e-6)
    np.testing.assert_allclose(with_link.times, [40, 52, 52, 12, 40], atol=1e-5)
    assert with_link.tstt == pytest.approx(552.0, rel=1e-8)  # every trip 92
    cap, is_open = inst.link_arrays(np.array([[0]]))
    without = equilibrium_batch(inst.network, cap, is_open, tol=1e-10, paths=paths)
    np.testing.assert_allclose(without.flows[0], [3, 3, 3, 0, 3], atol=1e-6)
    assert without.tstt[0] == pytest.approx(498.0, rel=1e-8)  # every trip 83


def test_relative_gap_meets_tolerance_and_beckmann_below_tstt():
    net, _ = grid_city(3, 3, seed=1)
    for algorithm, tol in (("fw", 1e-4), ("cfw", 1e-6), ("bfw", 1e-6)):
        res = equilibrium(net, tol=tol, algorithm=algorithm, max_iter=50_000)
        assert 0 <= res.relative_gap <= tol
        assert res.beckmann < res.tstt
    # flow conservation: every zone sends its demand out (no through-blocking here)
    out = np.bincount(net.init, res.flows, net.num_nodes) - np.bincount(net.term, res.flows, net.num_nodes)
    np.testing.assert_allclose(out[: net.num_zones], net.demand.sum(1) - net.demand.sum(0), atol=1e-6)


def test_batch_equals_single_solves_and_does_not_retrace():
    net, _ = grid_city(3, 3, seed=1)
    rng = np.random.default_rng(0)
    caps = net.capacity * rng.uniform(0.5, 1.5, (5, net.num_links))
    demands = perturb_demand(net.demand, seed=3, count=5)
    batch = equilibrium_batch(net, caps, demand=demands, tol=1e-7, vectorize=True)
    cache_many, cache_one = _solve_many._cache_size(), _solve_one._cache_size()
    for b in range(5):
        single = equilibrium(net.with_links(capacity=caps[b], demand=demands[b]), tol=1e-7)
        np.testing.assert_allclose(batch.flows[b], single.flows, rtol=1e-9, atol=1e-9)
        assert batch.tstt[b] == pytest.approx(single.tstt, rel=1e-12)
        assert batch.iterations[b] == single.iterations
    again = equilibrium_batch(net, caps[::-1] * 1.1, demand=demands, tol=1e-6, vectorize=True)
    assert again.relative_gap.max() <= 1e-6
    assert _solve_many._cache_size() == cache_many  # new values, same shapes: no new compilation
    assert _solve_one._cache_size() <= cache_one + 1  # at most the one new network topology above


def test_dijkstra_and_bellman_ford_load_the_same_flows():
    # random link costs (no ties), some links closed, through traffic banned at the first zones
    import jax
    import jax.numpy as jnp

    from ncosolve.traffic.dijkstra import all_or_nothing_dijkstra
    from ncosolve.traffic.shortest_paths import all_or_nothing
    from ncosolve.traffic.solver import topology
    from ncosolve.problems.network import Network
    base, _ = grid_city(5, 5, seed=2)
    net = Network(num_nodes=base.num_nodes, init=base.init, term=base.term, capacity=base.capacity,
                  free_flow_time=base.free_flow_time, demand=base.demand[:8, :8], first_thru_node=4)
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        topo = topology(net)
        for _ in range(3):
            cost = jnp.asarray(np.where(rng.random(net.num_links) < 0.15, np.inf, rng.uniform(1, 2, net.num_links)))
            demand = jnp.asarray(net.demand)
            sweeps, heap = all_or_nothing(topo, cost, demand), jax.jit(all_or_nothing_dijkstra)(topo, cost, demand)
            np.testing.assert_allclose(np.asarray(heap[0]), np.asarray(sweeps[0]), rtol=1e-12, atol=1e-9)
            assert float(heap[1]) == pytest.approx(float(sweeps[1]), rel=1e-12)  # shortest-path travel time
            assert float(heap[2]) == pytest.approx(float(sweeps[2]), rel=1e-12)  # demand with no open path
    with pytest.raises(InvalidInstance, match="paths"):
        equilibrium(net, paths="floyd")
    # vmapped, the host callback may run on a JAX thread without the solver's x64 scope: still float64, same flows
    caps = net.capacity * rng.uniform(0.3, 1.0, (3, net.num_links))
    batch = equilibrium_batch(net, caps, tol=1e-8, vectorize=True, paths="dijkstra")
    for b in range(3):
        single = equilibrium(net.with_links(capacity=caps[b]), tol=1e-8, paths="dijkstra")
        np.testing.assert_allclose(batch.flows[b], single.flows, rtol=1e-9, atol=1e-9)


@PATHS
def test_through_traffic_ban_reroutes_around_zone(paths):
    # zone 0 -> zone 2 with a cheap path through zone 1 and a dear one through node 3
    from ncosolve.problems.network import Network
    kw = dict(num_nodes=4, init=[0, 1, 0, 3], term=[1, 2, 3, 2], capacity=[10.0] * 4,
              free_flow_time=[1.0, 1.0, 5.0, 5.0], demand=np.array([[0, 0, 4.0], [0, 0, 0], [0, 0, 0]]))
    assert equilibrium(Network(**kw), paths=paths).flows == pytest.approx([4, 4, 0, 0])
    assert equilibrium(Network(**kw, first_thru_node=3), paths=paths).flows == pytest.approx([0, 0, 4, 4])
    with pytest.raises(InvalidInstance, match="no path"):
        Network(**{**kw, "init": [0, 1], "term": [1, 2], "capacity": [1.0, 1.0], "free_flow_time": [1.0, 1.0]},
                first_thru_node=3)


@PATHS
@needs_tntp
def test_siouxfalls_matches_best_known(paths):
    net = read_tntp(TNTP / "SiouxFalls_net.tntp")
    assert (net.num_nodes, net.num_links, net.num_zones) == (24, 76, 24)
    assert net.demand.sum() == pytest.approx(360600.0)
    res = equilibrium(net, tol=1e-6, paths=paths)
    assert res.relative_gap <= 1e-6
    assert res.tstt == pytest.approx(7_480_225.34, rel=1e-4)
    assert res.beckmann == pytest.approx(4_231_335.29, rel=1e-6)
    best = read_flows(TNTP / "SiouxFalls_flow.tntp", net)["flows"]
    assert np.abs(res.flows - best).max() < 0.002 * best.max()


@pytest.mark.slow
@needs_tntp
def test_anaheim_matches_best_known():
    net = read_tntp(TNTP / "Anaheim_net.tntp")
    assert (net.num_nodes, net.num_links, net.num_zones, net.first_thru_node) == (416, 914, 38, 38)
    res = equilibrium(net, tol=1e-6)
    assert res.relative_gap <= 1e-6
    assert res.tstt == pytest.approx(1_419_913.85, rel=1e-5)
    assert res.beckmann == pytest.approx(1_286_032.17, rel=1e-6)
