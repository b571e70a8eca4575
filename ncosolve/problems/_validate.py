"""Shared checks for instance constructors: each failure is an InvalidInstance naming the field."""

from __future__ import annotations

import numpy as np

from ncosolve.errors import InvalidInstance


def float_array(value, field: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """A read-only float64 copy of ``value`` with the given shape (None = any length), finite."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInstance(f"{field}: not numeric ({exc})") from None
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise InvalidInstance(f"{field}: expected shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInstance(f"{field}: contains NaN or infinite values")
    arr.setflags(write=False)
    return arr


def int_array(value, field: str, length: int) -> np.ndarray:
    """A read-only int64 vector of the given length whose values are whole numbers."""
    arr = float_array(value, field, (length,))
    if np.any(arr != np.round(arr)):
        raise InvalidInstance(f"{field}: values must be whole numbers")
    out = arr.astype(np.int64)
    out.setflags(write=False)
    return out


def check_distance_matrix(dist: np.ndarray, field: str = "dist") -> None:
    """A square matrix with a zero diagonal and no negative entries."""
    if dist.shape[0] != dist.shape[1]:
        raise InvalidInstance(f"{field}: must be square, got {dist.shape}")
    if np.any(dist < 0):
        raise InvalidInstance(f"{field}: negative distances")
    if np.any(np.diag(dist) != 0):
        raise InvalidInstance(f"{field}: diagonal must be zero")


def whole_number(value, field: str, minimum: int) -> int:
    """``value`` as an int, or InvalidInstance naming ``field`` when it is not a finite whole number >= minimum."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInstance(f"{field}: not a number ({value!r})") from None
    if not np.isfinite(number) or number != int(number) or number < minimum:
        raise InvalidInstance(f"{field}: must be a whole number >= {minimum}, got {value!r}")
    return int(number)
