"""The attention policy: shapes, masks, feasibility under evaluate(), decoding strategies, checkpoints."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import torch

import ncosolve
from ncosolve.policies.atsp import generate_atsp
from ncosolve.policies.batch import dihedral, from_instances
from ncosolve.policies.checkpoint import CheckpointError, load_policy, read_checkpoint, save_policy
from ncosolve.policies.decode import Decoding, decode, rollout, sample_actions
from ncosolve.policies.model import AttentionPolicy, PolicyConfig
from ncosolve.envs.routing_core import RouteState


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small batches run fastest (and steadiest on a shared machine) on one torch thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(problem="tsp", variant="euclidean", size=10, seed=0) -> AttentionPolicy:
    torch.manual_seed(seed)
    return AttentionPolicy(PolicyConfig(problem=problem, variant=variant, size=size, embed_dim=32, heads=4,
                                        layers=2, ff_dim=64)).eval()


def test_forward_shapes_and_log_probabilities():
    policy = tiny()
    batch = from_instances(ncosolve.generate("tsp", 3, 12, seed=5))
    enc = policy.encode(batch)
    assert enc.h.shape == (3, 12, 32)
    assert enc.step_bias.shape == (3, 5, 12, 12)  # (B, heads + pointer, from, to)
    state = RouteState.initial(batch, 4)
    state.step(torch.tensor([[0, 1, 2, 3]] * 3))
    lp = policy.logits(enc, batch, state, state.mask())
    assert lp.shape == (3, 4, 12)
    assert torch.allclose(lp.exp().sum(-1), torch.ones(3, 4), atol=1e-5)
    assert torch.all(torch.isinf(lp[0, 0, 0])) and torch.all(torch.isinf(lp[1, 3, 3]))


@pytest.mark.parametrize("problem", ["tsp", "cvrp", "cvrptw"])
def test_sampled_actions_never_revisit_or_overload(problem):
    policy = tiny(problem)
    instances = ncosolve.generate(problem, 4, 15, seed=2)
    batch = from_instances(instances)
    enc = policy.encode(batch)
    state = RouteState.initial(batch, 6)
    gen = torch.Generator().manual_seed(0)
    while not bool(state.done.all()):
        mask = state.mask()
        lp = policy.logits(enc, batch, state, mask)
        action = sample_actions(lp, gen)
        picked = state.visited.gather(2, action[..., None]).squeeze(-1)
        assert not bool((picked & ~state.done).any()), "a visited node was selected"
        if problem == "cvrp":
            assert bool((state.left >= -1e-9).all())
        state.step(action)


def test_sampled_actions_follow_the_probabilities_and_skip_masked_nodes():
    probs = torch.tensor([0.0, 0.1, 0.0, 0.6, 0.3, 0.0])  # masked nodes first, inside and last
    lp = probs.log().expand(2, 20_000, 6)
    action = sample_actions(lp, torch.Generator().manual_seed(3))
    assert action.shape == (2, 20_000)
    counts = torch.bincount(action.reshape(-1), minlength=6).double() / action.numel()
    assert counts[[0, 2, 5]].sum() == 0, "a zero-probability node was drawn"
    assert torch.allclose(counts, probs.double(), atol=0.01)  # 40,000 draws: standard error below 0.0035
    again = sample_actions(lp, torch.Generator().manual_seed(3))
    assert torch.equal(action, again), "seeded draws repeat"


@pytest.mark.parametrize("problem,size", [("tsp", 20), ("cvrp", 20)])
@pytest.mark.parametrize("how", [Decoding(), Decoding(multistart=False, augment=1),
                                 Decoding(sample=True, samples=2, augment=2)])
def test_decoded_solutions_are_feasible_and_priced_like_evaluate(problem, size, how):
    instances = ncosolve.generate(problem, 3, size, seed=1234)
    solutions, lengths = decode(tiny(problem), instances, how, seed=1)
    for inst, sol, length in zip(instances, solutions, lengths):
        assert ncosolve.evaluate(inst, sol) == pytest.approx(length, rel=1e-12)


def test_matrix_instances_decode_feasibly():
    instances = generate_atsp(3, 12, seed=0)
    assert not instances[0].symmetric
    solutions, lengths = decode(tiny(variant="matrix"), instances)
    for inst, sol, length in zip(instances, solutions, lengths):
        assert ncosolve.evaluate(inst, sol) == pytest.approx(length, rel=1e-12)


def test_same_size_planar_and_matrix_instances_decode_as_they_would_alone():
    """A planar instance keeps its dihedral copies when a matrix instance of its size shares the call."""
    policy = tiny(size=20)
    planar, matrix = ncosolve.generate("tsp", 1, 20, seed=3)[0], generate_atsp(1, 20, seed=3)[0]
    together = decode(policy, [planar, matrix])[1]
    assert list(together) == [decode(policy, [planar])[1][0], decode(policy, [matrix])[1][0]]


def test_real_instances_mixed_sizes_and_conventions():
    tsp = [i for i in ncosolve.load_benchmark("tsplib") if i.name in ("eil51", "berlin52")]
    assert {i.name for i in tsp} == {"eil51", "berlin52"}
    solutions, lengths = decode(tiny(), tsp)
    for inst, sol, length in zip(tsp, solutions, lengths):
        cost = ncosolve.evaluate(inst, sol)
        assert cost == length and cost == int(cost)  # EUC_2D: whole numbers, summed exactly
        assert cost >= ncosolve.best_known(inst)
    cvrp = [i for i in ncosolve.load_benchmark("cvrplib-A") if i.name == "A-n32-k5"]
    solutions, lengths = decode(tiny("cvrp"), cvrp)
    assert ncosolve.evaluate(cvrp[0], solutions[0]) == lengths[0] >= 784


@pytest.mark.parametrize("problem", ["tsp", "cvrp", "cvrptw"])
def test_multistart_and_augmentation_never_worse_than_single_greedy(problem):
    policy = tiny(problem, seed=3)
    instances = ncosolve.generate(problem, 6, 16, seed=7)
    _, single = decode(policy, instances, Decoding(multistart=False, augment=1))
    _, multi = decode(policy, instances, Decoding(multistart=True, augment=1))
    _, aug = decode(policy, instances, Decoding(multistart=True, augment=8))
    assert np.all(multi <= single + 1e-9)
    assert np.all(aug <= multi + 1e-9)
    assert np.any(multi < single - 1e-9)


def test_dihedral_copies_keep_distances_and_stay_in_unit_square():
    batch = from_instances(ncosolve.generate("tsp", 2, 9, seed=0))
    aug = dihedral(batch, 8)
    xy = aug.nodes[..., :2].view(8, 2, 9, 2)
    for k in range(8):
        d = torch.cdist(xy[k].double(), xy[k].double())
        assert torch.allclose(d, batch.dist.double(), atol=1e-5)
    assert float(aug.nodes[..., :2].min()) >= 0.0 and float(aug.nodes[..., :2].max()) <= 1.0
    assert len({tuple(xy[k, 0, 1].tolist()) for k in range(8)}) == 8


def test_rollout_multistart_covers_every_start():
    batch = from_instances(ncosolve.generate("cvrp", 2, 8, seed=0))
    _, actions, logp = rollout(tiny("cvrp"), batch, multistart=True, sample=False)
    assert actions.shape[:2] == (2, 8)
    assert actions[0, :, 0].tolist() == list(range(1, 9))
    assert bool(torch.isfinite(logp).all())


def test_checkpoint_round_trip(tmp_path):
    policy = tiny("cvrp", size=20)
    path = save_policy(policy, tmp_path / "p.pt", {"samples": 123})
    loaded, meta = load_policy(path, "cvrp")
    assert meta["training"]["samples"] == 123 and meta["ncosolve_version"] == ncosolve.__version__
    assert meta["config"]["size"] == 20
    for (name, a), (_, b) in zip(policy.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    inst = ncosolve.generate("cvrp", 2, 10, seed=0)
    assert np.array_equal(decode(policy, inst)[1], decode(loaded, inst)[1])


def test_checkpoint_refuses_wrong_problem(tmp_path):
    path = save_policy(tiny("tsp"), tmp_path / "tsp.pt")
    with pytest.raises(CheckpointError, match="trained for 'tsp'"):
        load_policy(path, "cvrp")
    with pytest.raises(ncosolve.NcoError, match="trained for 'tsp'"):
        ncosolve.solve(ncosolve.generate("cvrp", 1, 10)[0], method="attention", checkpoint=str(path))


def test_checkpoint_refuses_corrupt_and_missing_files(tmp_path):
    path = save_policy(tiny(), tmp_path / "p.pt")
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        read_checkpoint(tmp_path / "cut.pt")
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt"):
        read_checkpoint(tmp_path / "text.pt")
    with pytest.raises(CheckpointError, match="no such file"):
        read_checkpoint(tmp_path / "absent.pt")
    torch.save({"state_dict": {}}, tmp_path / "nometa.pt")
    with pytest.raises(CheckpointError, match="no meta"):
        read_checkpoint(tmp_path / "nometa.pt")


class _Payload:
    """Unpickling this would run code; weights_only loading must refuse it."""

    ran = False

    def __reduce__(self):
        return (_mark_ran, ())


def _mark_ran():
    _Payload.ran = True
    return {}


def test_checkpoint_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"meta": "{}", "state_dict": _Payload()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        read_checkpoint(path)
    assert not _Payload.ran
    with open(tmp_path / "plain.pkl", "wb") as fh:
        pickle.dump(_Payload(), fh)
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "plain.pkl")
    assert not _Payload.ran


def test_max_starts_spreads_the_start_nodes_evenly():
    batch = from_instances(ncosolve.generate("tsp", 2, 12, seed=0))
    length, actions, _ = rollout(tiny(), batch, multistart=True, sample=False, max_starts=4)
    assert actions[0, :, 0].tolist() == [0, 4, 7, 11] and length.shape == (2, 4)


def test_deadline_still_decodes_one_copy():
    instances = ncosolve.generate("tsp", 2, 10, seed=0)
    solutions, lengths = decode(tiny(), instances, Decoding(augment=8), deadline=0.0)
    _, identity_only = decode(tiny(), instances, Decoding(augment=1))
    assert np.array_equal(lengths, identity_only)
    assert all(sorted(s) == list(range(10)) for s in solutions)


def test_fleet_cap_keeps_the_best_candidate_within_it():
    """A shorter candidate that needs one route more than the fleet loses to a longer one within the fleet."""
    from ncosolve.policies.decode import _fold, route_counts

    three_routes = torch.tensor([3, 0, 1, 0, 2, 0, 0])
    two_routes = torch.tensor([1, 2, 0, 3, 0, 0, 0])
    assert route_counts(torch.stack([three_routes, two_routes])).tolist() == [3, 2]
    actions = torch.stack([three_routes, two_routes])[None]  # (copies x instances, starts, T)
    length = torch.tensor([[5.0, 6.0]], dtype=torch.float64)
    for fleet, expected in ((None, [[3], [1], [2]]), (2, [[1, 2], [3]]), (1, [[3], [1], [2]])):
        pools = [[]]
        _fold("cvrp", [0], length, actions, pools, [fleet], keep=1)
        assert pools[0][0][2] == expected, fleet
    pools = [[]]
    _fold("cvrp", [0], length, actions, pools, [2], keep=2)
    assert [entry[2] for entry in pools[0]] == [[[1, 2], [3]], [[3], [1], [2]]]  # within the cap first


def test_pool_keeps_the_best_distinct_solutions_best_first():
    """decode_pool: up to ``keep`` solutions per instance, distinct lengths, sorted, the first one decode()'s."""
    from ncosolve.policies.decode import decode_pool

    instances = ncosolve.generate("tsp", 3, 15, seed=4)
    policy = tiny()
    pools = decode_pool(policy, instances, Decoding(augment=2), keep=6)
    solutions, lengths = decode(policy, instances, Decoding(augment=2))
    for inst, pool, best, length in zip(instances, pools, solutions, lengths):
        costs = [c for c, _ in pool]
        assert len(pool) == 6 and costs == sorted(costs) and len(set(costs)) == 6
        assert pool[0] == (length, best)
        assert all(ncosolve.evaluate(inst, tour) == pytest.approx(c, rel=1e-12) for c, tour in pool)


@pytest.mark.parametrize("problem", ["tsp", "cvrp", "cvrptw"])
def test_dihedral_copies_share_their_pair_biases_exactly_like_separate_batches(problem):
    """encode() computes the pair biases once for a dihedral batch; each copy must score as if alone."""
    from ncosolve.policies.batch import transform

    policy = tiny(problem)
    base = from_instances(ncosolve.generate(problem, 2, 14, seed=8))
    stacked = dihedral(base, 3)
    enc = policy.encode(stacked)
    state = RouteState.initial(stacked, 4)
    state.step(torch.tensor([[1, 2, 3, 4]] * 6))
    lp = policy.logits(enc, stacked, state, state.mask())
    for k in range(3):
        alone = transform(base, k)
        single = RouteState.initial(alone, 4)
        single.step(torch.tensor([[1, 2, 3, 4]] * 2))
        ref = policy.logits(policy.encode(alone), alone, single, single.mask())
        assert torch.allclose(lp[2 * k:2 * k + 2], ref, atol=1e-5)


def test_cvrptw_attention_keeps_solomons_fleet_and_windows(c101):
    """The shipped CVRPTW policy on C101 (25 vehicles): every route within its windows, the fleet within the cap."""
    result = ncosolve.solve(c101, method="attention", time_limit=5.0)
    assert result.feasible and result.info["checkpoint"] == "cvrptw100.pt"
    assert len(result.solution) <= 25 and ncosolve.evaluate(c101, result.solution) == result.cost


def test_a_cvrptw_policy_transferred_from_cvrp_starts_as_the_cvrp_policy_does():
    from ncosolve.policies.model import transfer_weights

    source = tiny("cvrp")
    target = AttentionPolicy(dataclasses.replace(source.cfg, problem="cvrptw")).eval()
    fresh = transfer_weights(target, source)
    assert fresh == ["time_bias.weight", "time_bias.bias"]
    torch.nn.init.zeros_(target.time_bias.weight)
    torch.nn.init.zeros_(target.time_bias.bias)
    instances = ncosolve.generate("cvrptw", 2, 9, seed=4)
    as_cvrp = [ncosolve.CVRPInstance(coords=i.coords, demands=i.demands, capacity=i.capacity) for i in instances]
    tw_batch, cvrp_batch = from_instances(instances), from_instances(as_cvrp)
    tw_state, cvrp_state = RouteState.initial(tw_batch, 3), RouteState.initial(cvrp_batch, 3)
    for state in (tw_state, cvrp_state):
        state.step(torch.tensor([[1, 2, 3]] * 2))
    both = (tw_state.mask() & cvrp_state.mask())
    tw = target.logits(target.encode(tw_batch), tw_batch, tw_state, both)
    cvrp = source.logits(source.encode(cvrp_batch), cvrp_batch, cvrp_state, both)
    assert torch.allclose(tw, cvrp, atol=1e-5)
