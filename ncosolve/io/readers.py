"""Format-detecting instance readers. Distances follow each benchmark's convention (see problems.distances)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import vrplib
from vrplib.parse import parse_vrplib

from ncosolve.catalog import Entry, resolve
from ncosolve.errors import InvalidInstance, NcoError
from ncosolve.problems import CVRPInstance, CVRPTWInstance, TSPInstance
from ncosolve.problems.distances import COORD_TYPES

# Every format, as (sniff(path, head_text) -> bool, read(path) -> instance) entry points, tried in this order;
# the MAPF and TNTP modules are imported only when a file gets that far. Plugins append with register_reader.
_READERS: list[tuple[Entry, Entry]] = [
    ("ncosolve.io.tntp:is_dndp", "ncosolve.io.tntp:read_dndp"),
    ("ncosolve.io.tntp:is_tntp_net", "ncosolve.io.tntp:read_tntp"),
    ("ncosolve.io.movingai:is_movingai", "ncosolve.io.movingai:read_movingai"),
    ("ncosolve.io.readers:is_solomon", "ncosolve.io.readers:read_solomon"),
    ("ncosolve.io.readers:is_tsplib", "ncosolve.io.readers:read_tsplib"),
    ("ncosolve.io.readers:is_vrplib", "ncosolve.io.readers:read_vrplib"),
]


def register_reader(sniff: Callable[[Path, str], bool], read: Callable[..., object]) -> None:
    """Add a file format to ``read_instance`` (tried before the built-in ones): ``sniff`` sees the path and the
    file's first 4 KB."""
    _READERS.insert(0, (sniff, read))


def _head(path: Path) -> str:
    with open(path, "rb") as f:
        return f.read(4096).decode("utf-8", errors="replace")


def read_instance(path: str | os.PathLike, **options):
    """Read an instance file, detecting its format (TSPLIB, VRPLIB/CVRPLIB, Solomon, and registered ones).

    Raises ``InvalidInstance`` for a missing, unreadable or malformed file, naming the problem.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidInstance(f"{path}: is a directory, not an instance file")
    if not path.is_file():
        raise InvalidInstance(f"{path}: no such file")
    head = _head(path)
    for sniff, read in _READERS:
        if resolve(sniff)(path, head):
            read = resolve(read)
            try:
                return read(path, **options)
            except NcoError:
                raise
            except (ValueError, IndexError, KeyError, TypeError, AttributeError, OSError, UnicodeError, OverflowError,
                    MemoryError) as exc:
                raise InvalidInstance(f"{path.name}: malformed file ({type(exc).__name__}: {exc})") from None
    raise InvalidInstance(f"{path.name}: unrecognised instance format (expected TSPLIB, VRPLIB, Solomon or MovingAI)")


def _field(data: dict, key: str, path: Path):
    if key not in data:
        raise InvalidInstance(f"{path.name}: missing {key.upper()}")
    return data[key]


def _check_dimension(data: dict, n: int, path: Path) -> None:
    dim = data.get("dimension")
    if dim is not None and int(dim) != n:
        raise InvalidInstance(f"{path.name}: DIMENSION is {dim} but {n} nodes were given")


def _geometry(data: dict, path: Path, edge_weight_type: str | None) -> dict:
    """coords / dist / edge_weight_type keyword arguments from parsed VRPLIB-style sections."""
    ewt = str(data.get("edge_weight_type", "EUC_2D")).strip().upper()
    coords = data.get("node_coord")
    if ewt == "EXPLICIT":
        dist = np.asarray(_field(data, "edge_weight", path), dtype=np.float64)
        np.fill_diagonal(dist, 0.0)  # TSPLIB matrices often carry 9999 or similar on the diagonal
        _check_dimension(data, len(dist), path)
        return {"coords": coords, "dist": dist, "edge_weight_type": "EXPLICIT"}
    if ewt not in COORD_TYPES:
        raise InvalidInstance(f"{path.name}: EDGE_WEIGHT_TYPE {ewt} is not supported (use one of {COORD_TYPES})")
    coords = np.asarray(_field(data, "node_coord", path), dtype=np.float64)
    _check_dimension(data, len(coords), path)
    return {"coords": coords, "edge_weight_type": edge_weight_type or ewt}


_SECTION_END = ("EOF", "DISPLAY_DATA_SECTION", "NODE_COORD_SECTION", "DEMAND_SECTION", "DEPOT_SECTION",
                "TIME_WINDOW_SECTION", "SERVICE_TIME_SECTION", "FIXED_EDGES_SECTION", "TOUR_SECTION")


def _split_edge_weights(text: str) -> tuple[str, list[float] | None]:
    """Cut EDGE_WEIGHT_SECTION out of the file text (vrplib decodes only two of TSPLIB's matrix formats)."""
    lines = text.splitlines()
    start = next((k for k, line in enumerate(lines) if line.strip().upper().startswith("EDGE_WEIGHT_SECTION")), None)
    if start is None:
        return text, None
    end = next((k for k in range(start + 1, len(lines))
                if lines[k].strip().upper().startswith(_SECTION_END)), len(lines))
    values = [float(tok) for line in lines[start + 1:end] for tok in line.split()]
    return "\n".join(lines[:start] + lines[end:]), values


def _triangle(values: np.ndarray, n: int, lower: bool, diag: bool) -> np.ndarray:
    """Symmetric matrix from a row-wise triangle (column-wise formats are the other triangle row-wise)."""
    rows, cols = np.tril_indices(n, 0 if diag else -1) if lower else np.triu_indices(n, 0 if diag else 1)
    if len(values) != len(rows):
        raise InvalidInstance(f"EDGE_WEIGHT_SECTION has {len(values)} values, expected {len(rows)}")
    m = np.zeros((n, n))
    m[rows, cols] = values
    return m + m.T - np.diag(np.diag(m))


# TSPLIB matrix formats as (lower triangle?, with diagonal?) read row-wise; *_COL is the transposed *_ROW.
_TRIANGLES = {
    "UPPER_ROW": (False, False), "LOWER_COL": (False, False),
    "LOWER_ROW": (True, False), "UPPER_COL": (True, False),
    "UPPER_DIAG_ROW": (False, True), "LOWER_DIAG_COL": (False, True),
    "LOWER_DIAG_ROW": (True, True), "UPPER_DIAG_COL": (True, True),
}


def _explicit_matrix(values: list[float], n: int, fmt: str) -> np.ndarray:
    """The (n, n) matrix of an EDGE_WEIGHT_SECTION in any TSPLIB EDGE_WEIGHT_FORMAT."""
    vals = np.asarray(values, dtype=np.float64)
    if fmt == "FULL_MATRIX":
        if len(vals) != n * n:
            raise InvalidInstance(f"EDGE_WEIGHT_SECTION has {len(vals)} values, expected {n * n} for FULL_MATRIX")
        return vals.reshape(n, n)
    if fmt not in _TRIANGLES:
        raise InvalidInstance(f"EDGE_WEIGHT_FORMAT {fmt!r} is not supported ({', '.join(['FULL_MATRIX', *_TRIANGLES])})")
    return _triangle(vals, n, *_TRIANGLES[fmt])


def _parse(path: Path) -> dict:
    """Header and sections of a TSPLIB/VRPLIB file, with any explicit matrix decoded as ``edge_weight``."""
    text, weights = _split_edge_weights(path.read_text(errors="replace"))
    try:
        data = parse_vrplib(text, compute_edge_weights=False)
    except NcoError:
        raise
    except Exception as exc:  # vrplib raises a variety of errors on malformed input
        raise InvalidInstance(f"{path.name}: malformed file ({type(exc).__name__}: {exc})") from None
    if weights is not None:
        if "dimension" not in data:
            raise InvalidInstance(f"{path.name}: missing DIMENSION")
        fmt = str(data.get("edge_weight_format", "FULL_MATRIX")).strip().upper()
        data["edge_weight"] = _explicit_matrix(weights, int(data["dimension"]), fmt)
    return data


def read_tsplib(path: Path, edge_weight_type: str | None = None) -> TSPInstance:
    """A TSPLIB ``.tsp``/``.atsp`` file: EUC_2D, CEIL_2D, ATT, GEO or EXPLICIT (any matrix format)."""
    data = _parse(path)
    kind = str(data.get("type", "TSP")).strip().upper()
    if kind not in ("TSP", "ATSP"):
        raise InvalidInstance(f"{path.name}: TYPE {kind} is not a TSP")
    return TSPInstance(name=str(data.get("name", path.stem)), **_geometry(data, path, edge_weight_type))


def _depot_first(data: dict, path: Path) -> None:
    depot = np.atleast_1d(data.get("depot", [0]))
    if len(depot) != 1 or int(depot[0]) != 0:
        raise InvalidInstance(f"{path.name}: only one depot, node 1, is supported (DEPOT_SECTION {depot.tolist()})")


def read_vrplib(path: Path, edge_weight_type: str | None = None) -> CVRPInstance | CVRPTWInstance:
    """A VRPLIB file: CVRP (CVRPLIB, nint distances) or CVRPTW (Solomon's one-decimal truncation)."""
    data = _parse(path)
    _depot_first(data, path)
    kind = str(data.get("type", "CVRP")).strip().upper()
    has_tw = "time_window" in data
    if has_tw and edge_weight_type is None and str(data.get("edge_weight_type", "")).upper() == "EUC_2D":
        edge_weight_type = "TRUNC1_2D"
    geometry = _geometry(data, path, edge_weight_type)
    common = dict(
        name=str(data.get("name", path.stem)),
        demands=_field(data, "demand", path),
        capacity=_field(data, "capacity", path),
        num_vehicles=data.get("vehicles"),
        **geometry,
    )
    if not has_tw:
        if kind not in ("CVRP", "VRP"):
            raise InvalidInstance(f"{path.name}: TYPE {kind} without TIME_WINDOW_SECTION is not a CVRP")
        return CVRPInstance(**common)
    service = data.get("service_time", 0.0)
    n = len(common["demands"])
    service = np.full(n, float(service)) if np.ndim(service) == 0 else np.asarray(service, dtype=np.float64)
    service = service.copy()
    service[0] = 0.0
    return CVRPTWInstance(time_windows=data["time_window"], service_times=service, **common)


def read_solomon(path: Path, edge_weight_type: str | None = None) -> CVRPTWInstance:
    """A VRPTW file in Solomon's original text layout (VEHICLE / CUSTOMER tables)."""
    try:
        data = vrplib.read_instance(path, instance_format="solomon", compute_edge_weights=False)
    except Exception as exc:
        raise InvalidInstance(f"{path.name}: malformed Solomon file ({type(exc).__name__}: {exc})") from None
    service = np.asarray(data["service_time"], dtype=np.float64).copy()
    service[0] = 0.0
    return CVRPTWInstance(
        name=str(data.get("name", path.stem)),
        coords=data["node_coord"],
        demands=data["demand"],
        capacity=data["capacity"],
        time_windows=data["time_window"],
        service_times=service,
        num_vehicles=data.get("vehicles"),
        edge_weight_type=edge_weight_type or "TRUNC1_2D",
    )


def _type_line(head: str) -> str:
    for line in head.splitlines():
        key, _, value = line.partition(":")
        if key.strip().upper() == "TYPE":
            return value.strip().upper()
    return ""


def is_tsplib(path: Path, head: str) -> bool:
    return path.suffix.lower() in (".tsp", ".atsp") or _type_line(head) in ("TSP", "ATSP")


def is_vrplib(path: Path, head: str) -> bool:
    return path.suffix.lower() == ".vrp" or _type_line(head) in ("CVRP", "VRP", "CVRPTW", "VRPTW")


def is_solomon(path: Path, head: str) -> bool:
    upper = head.upper()
    return "VEHICLE" in upper and "CUSTOMER" in upper and "NUMBER" in upper and ":" not in upper.split("VEHICLE")[0]




def read_solution(path: str | os.PathLike) -> dict:
    """A solution file: VRPLIB ``.sol`` (``routes``, ``cost``) or TSPLIB ``.tour`` (``tour``, 0-based)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInstance(f"{path}: no such file")
    text = path.read_text(errors="replace")
    if "TOUR_SECTION" in text.upper():
        nodes = []
        body = text[text.upper().index("TOUR_SECTION") + len("TOUR_SECTION"):]
        for tok in body.split():
            if tok == "-1" or tok.upper() == "EOF":
                break
            if not tok.isdigit():
                raise InvalidInstance(f"{path.name}: TOUR_SECTION holds {tok!r}, not a node number")
            nodes.append(int(tok) - 1)
        return {"tour": nodes}
    try:
        sol = vrplib.read_solution(path)
    except Exception as exc:
        raise InvalidInstance(f"{path.name}: malformed solution file ({type(exc).__name__}: {exc})") from None
    return {"routes": [list(map(int, r)) for r in sol["routes"]], "cost": sol.get("cost")}
