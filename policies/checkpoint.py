"""Policy checkpoints: one file holding ``state_dict``, a JSON config and the ncosolve version.

Loading uses ``torch.load(weights_only=True)``, so a file carrying pickled code is refused, never run.
Shipped checkpoints live in ``ncosolve/data/checkpoints/<name>.pt``; ``find_checkpoint`` picks the one
for an instance (same problem and variant, nearest training size).
"""

from __future__ import annotations

import json
from functools import lru_cache
import pickle
import zipfile
from pathlib import Path

import torch

import ncosolve.errors
from ncosolve.errors import NcoError
from ncosolve.policies.batch import uses_coords
from ncosolve.policies.model import AttentionPolicy, PolicyConfig

FORMAT = "ncosolve-attention-policy/1"
SHIPPED = Path(ncosolve.errors.__file__).resolve().parent / "data" / "checkpoints"


class CheckpointError(NcoError, ValueError):
    """A checkpoint file that is missing, corrupt, unsafe, or made for another problem."""


def _version() -> str:
    import ncosolve

    return ncosolve.__version__


def write_checkpoint(path, fmt: str, config: dict, state_dict: dict, training: dict | None = None) -> Path:
    """Write a checkpoint of format ``fmt`` atomically: weights, config, ``training`` record, ncosolve version."""
    meta = {"format": fmt, "ncosolve_version": _version(), "config": config, "training": training or {}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"meta": json.dumps(meta), "state_dict": state_dict}, tmp)
    tmp.replace(path)
    return path


def read_checkpoint(path, fmt: str = FORMAT, what: str = "an attention policy") -> tuple[dict, dict]:
    """(meta, state_dict) of a checkpoint file of format ``fmt``, or CheckpointError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"checkpoint {path}: corrupt or not a torch checkpoint (not a torch.save archive)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        why = [line for line in str(exc).splitlines() if "Unsupported" in line] or [str(exc).splitlines()[0]]
        raise CheckpointError(f"checkpoint {path}: refused, it holds more than tensors and plain data "
                              f"({why[0].strip()})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(f"checkpoint {path}: corrupt or not a torch file ({exc})") from None
    if not isinstance(payload, dict) or "meta" not in payload or "state_dict" not in payload:
        raise CheckpointError(f"checkpoint {path}: not an ncosolve checkpoint (no meta/state_dict)")
    try:
        meta = json.loads(payload["meta"])
    except (TypeError, json.JSONDecodeError):
        raise CheckpointError(f"checkpoint {path}: its JSON config is unreadable") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"checkpoint {path}: format {found!r}, expected {fmt!r} ({what})")
    return meta, payload["state_dict"]


def read_config(cls, meta: dict, path):
    """``cls(**meta["config"])``, or CheckpointError when the stored config does not fit this ncosolve's ``cls``."""
    try:
        return cls(**meta["config"])
    except TypeError as exc:
        raise CheckpointError(f"checkpoint {path}: config does not match this ncosolve ({exc})") from None


def load_weights(model: torch.nn.Module, state: dict, path) -> torch.nn.Module:
    """``model`` with ``state`` loaded, in eval mode; CheckpointError if the weights do not fit its config."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path}: weights do not fit its config ({str(exc)[:200]})") from None
    return model.eval()


def save_policy(policy: AttentionPolicy, path, training: dict | None = None) -> Path:
    """Write ``policy`` to ``path`` with its config and ``training`` (budget, hardware...) as JSON."""
    return write_checkpoint(path, FORMAT, policy.cfg.to_dict(), policy.state_dict(), training)


def load_policy(path, problem: str | None = None) -> tuple[AttentionPolicy, dict]:
    """The policy stored at ``path`` (eval mode) and its meta; ``problem`` checks what it was trained for."""
    meta, state = read_checkpoint(path)
    cfg = read_config(PolicyConfig, meta, path)
    if problem is not None and cfg.problem != problem:
        raise CheckpointError(f"checkpoint {path}: trained for {cfg.problem!r}, cannot solve {problem!r}")
    return load_weights(AttentionPolicy(cfg), state, path), meta


@lru_cache(maxsize=1)
def _shipped() -> tuple[tuple[Path, PolicyConfig], ...]:
    out = []
    for path in sorted(SHIPPED.glob("*.pt")):
        meta, _ = read_checkpoint(path)
        out.append((path, PolicyConfig(**meta["config"])))
    return tuple(out)


def shipped_checkpoints() -> list[tuple[Path, PolicyConfig]]:
    """Every checkpoint shipped with the package and its config (the files are read once per process)."""
    return list(_shipped())


def instance_variant(instance) -> str:
    """"euclidean" when the policy sees coordinates, else "matrix" (explicit distances, GEO)."""
    return "euclidean" if uses_coords(instance) else "matrix"


def instance_size(instance) -> int:
    """Size as checkpoints count it: nodes for TSP, customers for CVRP and CVRPTW."""
    return instance.n - (instance.problem != "tsp")


def find_checkpoint(instance) -> Path:
    """The shipped checkpoint for ``instance``: same problem, same variant if one exists, nearest size."""
    same = [(p, c) for p, c in shipped_checkpoints() if c.problem == instance.problem]
    if not same:
        raise CheckpointError(f"no shipped attention checkpoint solves {instance.problem!r}")
    variant = [(p, c) for p, c in same if c.variant == instance_variant(instance)] or same
    size = instance_size(instance)
    return min(variant, key=lambda pc: (abs(pc[1].size - size), pc[1].size))[0]
