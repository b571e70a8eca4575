"""Integer scaling shared by the classical solvers (OR-Tools, PyVRP and LKH work on integer arc lengths).

Distances (and times) are scaled by the instance's exact unit when it has one (``integer_unit``: 1 for
TSPLIB/CVRPLIB nint, 10 for Solomon's one decimal), else by the largest factor that keeps every value
below a solver-specific bound.
"""

from __future__ import annotations

import numpy as np

from ncosolve.problems.distances import integer_unit

# Largest scaled value handed to OR-Tools / PyVRP (int64 arithmetic): big enough that rounding a
# continuous value moves it by under 1e-9 of the largest value, small enough that sums of thousands of
# arcs and the time horizon stay far from overflow.
MAX_INT64_VALUE = 10**9

_WHOLE_TOL = 1e-6


def _is_multiple(values: np.ndarray, unit: int) -> bool:
    """Whether every value is a whole number of 1/unit steps."""
    scaled = values * unit
    return bool(np.all(np.abs(scaled - np.rint(scaled)) <= _WHOLE_TOL))


def integer_scale(instance, max_value: float, times: tuple[np.ndarray, ...] = (),
                  continuous_max: float | None = None) -> tuple[float, bool]:
    """The factor turning the instance's distances (and ``times``) into integers, and whether it is exact.

    Exact when the edge-weight convention has an integer unit (or it is an explicit matrix of whole
    numbers, as most are), all ``times`` are multiples of that unit, and the largest scaled value stays
    within ``max_value``; otherwise the largest value is scaled to ``continuous_max`` (default
    ``max_value``).
    """
    values = [np.asarray(instance.distance_matrix(), dtype=np.float64)]
    values += [np.asarray(t, dtype=np.float64) for t in times]
    biggest = max(float(np.max(np.abs(v))) if v.size else 0.0 for v in values)
    unit = integer_unit(instance.edge_weight_type)
    if instance.edge_weight_type == "EXPLICIT" and all(_is_multiple(v, 1) for v in values):
        unit = 1
    if unit is not None and all(_is_multiple(v, unit) for v in values[1:]) and biggest * unit <= max_value:
        return float(unit), True
    target = max_value if continuous_max is None else continuous_max
    return (target / biggest if biggest > 0 else 1.0), False


def to_int(values, scale: float) -> np.ndarray:
    """``values * scale`` rounded to the nearest integer (int64)."""
    return np.rint(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)


def _round(values, scale: float, up: bool) -> np.ndarray:
    """``values * scale`` rounded up (or down) to int64, except float noise around whole numbers, which snaps."""
    scaled = np.asarray(values, dtype=np.float64) * scale
    near = np.rint(scaled)
    directed = np.ceil(scaled) if up else np.floor(scaled)
    return np.where(np.abs(scaled - near) <= _WHOLE_TOL, near, directed).astype(np.int64)


def scaled_times(instance, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer travel times (n, n), service times (n,) and windows (n, 2) of a CVRPTW, rounded safely.

    Travel and service round up, ready times up and due times down, so a schedule feasible in integers is
    feasible in the original units; with an exact scale nothing is rounded. The depot has no service.
    """
    travel = _round(instance.distance_matrix(), scale, up=True)
    service = _round(instance.service_times, scale, up=True)
    service[0] = 0
    windows = np.column_stack([_round(instance.time_windows[:, 0], scale, up=True),
                               _round(instance.time_windows[:, 1], scale, up=False)])
    return travel, service, windows


def integer_loads(demands: np.ndarray, capacity: float) -> tuple[np.ndarray, int]:
    """Integer demands and capacity such that every integer-feasible load is feasible in the original units.

    Whole-number data is used as is; fractional data is scaled (capacity to 1e9 steps) with demands
    rounded up, except those within float noise (1e-3 step) of a whole step, which are snapped.
    """
    demands = np.asarray(demands, dtype=np.float64)
    if _is_multiple(demands, 1) and _is_multiple(np.array([capacity]), 1) and capacity <= MAX_INT64_VALUE:
        return np.rint(demands).astype(np.int64), int(round(capacity))
    scale = MAX_INT64_VALUE / capacity
    scaled = demands * scale
    snapped = np.abs(scaled - np.rint(scaled)) <= 1e-3
    dem = np.where(snapped, np.rint(scaled), np.ceil(scaled)).astype(np.int64)
    return dem, MAX_INT64_VALUE
