"""``rl4co-pomo``: rl4co's own POMO (its AttentionModelPolicy, TSPEnv / CVRPEnv), the peer of ``attention``.

Checkpoints (``ncosolve/data/checkpoints/rl4co/<problem><size>.pt``, written by ``scripts/train_rl4co_pomo.py``)
hold the policy's ``state_dict`` and a JSON config, loaded with ``torch.load(weights_only=True)``. An instance
is given to rl4co as its TensorDict (coordinates moved to the unit square, demands / capacity), decoded by
rl4co's multi-start greedy on x8 dihedral copies, and the best trajectory is mapped back to an ncosolve
solution whose cost ``solve()`` takes from ``evaluate()``. rl4co is imported only when the method runs.
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ncosolve.baselines.constructive import nearest_neighbor_routes, nearest_neighbor_tour
from ncosolve.errors import InvalidInstance
from ncosolve.generators import shrink
from ncosolve.policies.batch import uses_coords
from ncosolve.policies.checkpoint import (SHIPPED, CheckpointError, instance_size, load_weights, read_checkpoint,
                                          write_checkpoint)
from ncosolve.policies.decode import route_counts, to_solution
from ncosolve.policies.methods import MAX_STARTS
from ncosolve.policies.torch_threads import torch_threads

FORMAT = "ncosolve-rl4co-pomo/1"
SHIPPED_RL4CO = SHIPPED / "rl4co"


def policy_kwargs(cfg: dict) -> dict:
    """rl4co AttentionModelPolicy arguments for a config (POMO's choices: instance norm, no graph context)."""
    return {"embed_dim": cfg["embed_dim"], "num_heads": cfg["num_heads"],
            "num_encoder_layers": cfg["num_encoder_layers"], "feedforward_hidden": cfg["feedforward_hidden"],
            "normalization": "instance", "use_graph_context": False}


def import_rl4co() -> None:
    """Import rl4co's models and environments, keeping torch's thread count: the first import sets it to every
    core (rl4co's numba 2-opt calls ``numba.set_num_threads``, which shares the OpenMP pool). Call it before any
    other rl4co import; later imports find the modules loaded and change nothing."""
    threads = torch.get_num_threads()
    import rl4co.envs  # noqa: F401
    import rl4co.models  # noqa: F401

    torch.set_num_threads(threads)


def make_env(problem: str, size: int, capacity: float | None = None):
    """rl4co's environment for ``problem`` ("tsp" or "cvrp") with ``size`` nodes / customers; ``capacity`` only
    shapes generated training data (None: Kool et al.'s capacity for the size)."""
    import_rl4co()
    from rl4co.envs import CVRPEnv, TSPEnv

    if problem == "tsp":
        return TSPEnv(generator_params={"num_loc": size})
    return CVRPEnv(generator_params={"num_loc": size, "capacity": capacity})


def make_policy(cfg: dict):
    """An untrained rl4co AttentionModelPolicy for a config."""
    import_rl4co()
    from rl4co.models.zoo.am import AttentionModelPolicy

    return AttentionModelPolicy(env_name=cfg["problem"], **policy_kwargs(cfg))


def save_pomo(policy: torch.nn.Module, cfg: dict, path, training: dict | None = None) -> Path:
    """Write an rl4co policy's weights with its config and training budget (and the rl4co version)."""
    import rl4co

    training = {**(training or {}), "rl4co_version": rl4co.__version__}
    return write_checkpoint(path, FORMAT, cfg, policy.state_dict(), training)


def read_pomo(path) -> tuple[dict, dict]:
    """(meta, state_dict) of an rl4co-pomo checkpoint, or CheckpointError saying what is wrong."""
    return read_checkpoint(path, FORMAT, "an rl4co-pomo checkpoint")


@lru_cache(maxsize=1)
def _shipped_pomo() -> tuple[tuple[Path, dict], ...]:
    return tuple((p, read_pomo(p)[0]["config"]) for p in sorted(SHIPPED_RL4CO.glob("*.pt")))


def shipped_pomo() -> list[tuple[Path, dict]]:
    """Every shipped rl4co-pomo checkpoint and its config (the files are read once per process)."""
    return list(_shipped_pomo())


def find_pomo(instance) -> Path:
    """The shipped checkpoint of the instance's problem with the nearest training size."""
    same = [(p, c) for p, c in shipped_pomo() if c["problem"] == instance.problem]
    if not same:
        raise CheckpointError(f"no shipped rl4co-pomo checkpoint solves {instance.problem!r}")
    size = instance_size(instance)
    return min(same, key=lambda pc: (abs(pc[1]["size"] - size), pc[1]["size"]))[0]


@lru_cache(maxsize=8)
def load_pomo(path: str, problem: str):
    """(policy in eval mode, config) of the checkpoint at ``path``, checked to be trained for ``problem``."""
    meta, state = read_pomo(path)
    cfg = meta["config"]
    if cfg.get("problem") != problem:
        raise CheckpointError(f"rl4co-pomo checkpoint {path}: trained for {cfg.get('problem')!r}, "
                              f"cannot solve {problem!r}")
    return load_weights(make_policy(cfg), state, path), cfg


def to_tensordict(instances):
    """Same-size instances as rl4co's input TensorDict: unit-square coordinates, demands / capacity."""
    from tensordict import TensorDict

    xy = []
    for inst in instances:
        c = inst.coords - inst.coords.min(axis=0)
        xy.append(c / (float(c.max()) or 1.0))
    locs = torch.tensor(np.stack(xy), dtype=torch.float32)
    if instances[0].problem == "tsp":
        return TensorDict({"locs": locs}, batch_size=[len(instances)])
    demand = np.stack([inst.demands[1:] / inst.capacity for inst in instances])
    return TensorDict({"locs": locs[:, 1:], "depot": locs[:, 0],
                       "demand": torch.tensor(demand, dtype=torch.float32),
                       "capacity": torch.ones(len(instances), 1)}, batch_size=[len(instances)])


def pomo_decode(policy, cfg: dict, instances, augment: int = 8, max_starts: int | None = None) -> list:
    """rl4co multi-start greedy on ``augment`` dihedral copies; the best trajectory per instance as a solution.

    ``max_starts`` caps the start nodes (rl4co takes the first ones), so large instances stay tractable.

    For a CVRP with a fleet cap (``num_vehicles``) a trajectory within the cap beats any over it.
    """
    from rl4co.data.transforms import StateAugmentation
    from rl4co.utils.ops import unbatchify

    problem = instances[0].problem
    env = make_env(problem, instance_size(instances[0]), capacity=1.0)  # demands come already divided
    td = env.reset(to_tensordict(instances))
    starts = min(env.get_num_starts(td), max_starts or env.get_num_starts(td))
    if augment > 1:
        td = StateAugmentation(num_augment=augment, augment_fn="dihedral8", first_aug_identity=True)(td)
    out = policy(td, env, phase="test", decode_type="multistart_greedy", num_starts=starts, return_actions=True)
    shape = (augment if augment > 1 else 0, starts)
    length = -unbatchify(out["reward"], shape).reshape(len(instances), -1)
    actions = unbatchify(out["actions"], shape).reshape(len(instances), length.shape[1], -1)
    if problem == "cvrp":
        cap = torch.tensor([inst.num_vehicles or actions.shape[-1] for inst in instances])
        length = torch.where(route_counts(actions) > cap[:, None], length + length.max() + 1.0, length)
    best = length.argmin(1)
    return [to_solution(problem, actions[i, best[i]].numpy()) for i in range(len(instances))]


CALIBRATION_NODES = 50  # prepare times a decode of the instance cut to this many nodes
DECODE_SHARE = 0.6  # of the time limit, what the estimated decode may take (rl4co's decode cannot be stopped)
_SECONDS_PER_UNIT: dict[tuple, float] = {}  # (problem, checkpoint) -> seconds per node^2 x trajectory


def prepare_rl4co(instance) -> None:
    """Import rl4co's models and environments (seconds: lightning, tensordict, numba), load the checkpoint the
    instance will use, and time one decode of the instance cut to ``CALIBRATION_NODES`` nodes: one-time costs
    outside the budget. The timing sizes the decode to the budget (``rl4co_pomo_solve``)."""
    import_rl4co()
    if not uses_coords(instance):
        return
    path = str(find_pomo(instance).resolve())
    policy, cfg = load_pomo(path, instance.problem)
    key = (instance.problem, path)
    tiny = shrink(instance, CALIBRATION_NODES)
    if key in _SECONDS_PER_UNIT or tiny.n < 2:
        return
    start = time.perf_counter()
    with torch_threads(1), torch.inference_mode():
        pomo_decode(policy, cfg, [tiny], 1, None)
    _SECONDS_PER_UNIT[key] = (time.perf_counter() - start) / (tiny.n ** 2 * instance_size(tiny))


def decode_plan(instance, key: tuple, time_limit: float, augment: int, max_starts: int) -> tuple[int, int] | None:
    """(augment, starts) whose estimated decode fits ``DECODE_SHARE`` of the time limit, from ``prepare_rl4co``'s
    timing (measured on a smaller cut, so the estimate errs long); None when not even one trajectory fits.
    Unprepared (no timing): the options as given."""
    starts = min(instance_size(instance), max_starts)
    unit = _SECONDS_PER_UNIT.get(key)
    if unit is None:
        return augment, starts
    fit = DECODE_SHARE * time_limit / (unit * instance.n ** 2)  # trajectories that fit
    if fit < 1:
        return None
    copies = augment if fit >= augment else 1  # rl4co's dihedral augmentation takes all 8 copies or none
    return copies, max(1, min(starts, int(fit // copies)))


def rl4co_pomo_solve(instance, time_limit: float, seed: int = 0, checkpoint: str | None = None, augment: int = 8,
                     max_starts: int = MAX_STARTS, threads: int = 1):
    """Decode ``instance`` with an rl4co POMO checkpoint (given path or the nearest shipped size), in one batched
    pass that rl4co cannot stop: its size (copies, start nodes, at most ``augment`` and ``max_starts``) is chosen to
    fit the time limit from ``prepare_rl4co``'s timing (``decode_plan``)."""
    if not uses_coords(instance):
        raise InvalidInstance(f"rl4co-pomo: {instance.name or 'instance'} has no planar coordinates "
                              f"({instance.edge_weight_type or 'explicit matrix'}); rl4co's POMO is Euclidean only")
    path = Path(checkpoint) if checkpoint is not None else find_pomo(instance)
    policy, cfg = load_pomo(str(path.resolve()), instance.problem)
    if instance.n < 2:  # rl4co's instance norm needs two nodes; one node has one solution
        return ([0] if instance.problem == "tsp" else []), {"checkpoint": path.name, "trivial": True}
    info = {"checkpoint": path.name, "trained_on": f"{cfg['problem']}{cfg['size']}"}
    plan = decode_plan(instance, (instance.problem, str(path.resolve())), time_limit, augment, max_starts)
    if plan is None:  # even one trajectory would overrun the budget: build without the network
        info["fallback"] = "nearest neighbour (one decode would have overrun the time limit)"
        built = nearest_neighbor_tour(instance) if instance.problem == "tsp" else nearest_neighbor_routes(instance)
        return built, info
    with torch_threads(threads), torch.inference_mode():
        torch.manual_seed(seed)
        solution = pomo_decode(policy, cfg, [instance], plan[0], plan[1])[0]
    return solution, {**info, "augment": plan[0], "multistart": plan[1]}
