"""The Result of a solve: the solution, its checked cost, and how it was obtained."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _plain(value):
    """JSON-ready copy: numpy arrays and scalars to lists and Python numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class Result:
    """Outcome of ``solve()``; ``cost`` is what ``evaluate()`` returned (``inf`` when infeasible or absent).

    ``info`` holds method-specific details (e.g. ``infeasible_reason``, iterations, the seed).
    """

    solution: Any
    cost: float
    feasible: bool
    runtime_s: float
    method: str
    info: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One line for humans."""
        status = "feasible" if self.feasible else f"INFEASIBLE ({self.info.get('infeasible_reason', 'no solution')})"
        cost = f"{self.cost:.10g}" if math.isfinite(self.cost) else "-"
        return f"{self.method}: cost {cost}, {status}, {self.runtime_s:.2f} s"

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return {
            "method": self.method,
            "cost": self.cost if math.isfinite(self.cost) else None,
            "feasible": self.feasible,
            "runtime_s": self.runtime_s,
            "solution": _plain(self.solution),
            "info": _plain(self.info),
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write ``to_dict()`` as JSON."""
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
