"""Writers back to TSPLIB / VRPLIB, so instances and solutions round-trip through files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import vrplib

from ncosolve.errors import NcoError


def _number(x: float):
    return int(x) if float(x).is_integer() else float(x)


def _geometry_fields(instance, path: Path) -> dict:
    fields: dict = {"NAME": instance.name or path.stem}
    ewt = instance.edge_weight_type
    if instance.problem == "cvrptw" and ewt == "TRUNC1_2D":
        ewt = "EUC_2D"  # Solomon-style VRPLIB files say EUC_2D; readers apply the one-decimal truncation
    fields["TYPE"] = {"tsp": "TSP" if instance.symmetric else "ATSP", "cvrp": "CVRP", "cvrptw": "CVRPTW"}[instance.problem]
    fields["DIMENSION"] = instance.n
    if instance.problem != "tsp" and instance.num_vehicles is not None:
        fields["VEHICLES"] = instance.num_vehicles
    if instance.problem != "tsp":
        fields["CAPACITY"] = _number(instance.capacity)
    fields["EDGE_WEIGHT_TYPE"] = ewt
    if ewt == "EXPLICIT":
        fields["EDGE_WEIGHT_FORMAT"] = "FULL_MATRIX"
        fields["EDGE_WEIGHT_SECTION"] = instance.dist
    if instance.coords is not None:
        key = "NODE_COORD_SECTION" if ewt != "EXPLICIT" else "DISPLAY_DATA_SECTION"
        fields[key] = instance.coords
    return fields


def write_instance(instance, path: str | os.PathLike) -> None:
    """Write a TSP as TSPLIB, a CVRP / CVRPTW as VRPLIB (Solomon-style sections for time windows)."""
    path = Path(path)
    if getattr(instance, "problem", None) not in ("tsp", "cvrp", "cvrptw"):
        raise NcoError(f"write_instance: no file format for {type(instance).__name__}")
    fields = _geometry_fields(instance, path)
    if instance.problem != "tsp":
        fields["DEMAND_SECTION"] = instance.demands
    if instance.problem == "cvrptw":
        fields["SERVICE_TIME_SECTION"] = instance.service_times
        fields["TIME_WINDOW_SECTION"] = instance.time_windows
    if instance.problem != "tsp":
        fields["DEPOT_SECTION"] = np.array([1, -1])
    # vrplib adds the 1-based index column to each section; int-valued floats are written as integers
    cleaned = {k: (_intify(v) if isinstance(v, np.ndarray) else v) for k, v in fields.items()}
    vrplib.write_instance(path, cleaned)


def _intify(a: np.ndarray) -> np.ndarray:
    return a.astype(np.int64) if np.all(a == np.round(a)) else a


FILE_SOLUTIONS = ("tsp", "cvrp", "cvrptw")  # problems whose solutions have a file format (others: JSON)


def write_solution(path: str | os.PathLike, solution, cost: float | None = None) -> None:
    """Write a TSP tour as a TSPLIB ``.tour`` or VRP routes as a VRPLIB ``.sol`` (1-based / VRPLIB ids).

    MAPF paths and network designs have no such format: save them as JSON (``Result.save``)."""
    path = Path(path)
    if len(solution) and np.ndim(solution[0]) == 2:
        raise NcoError(f"write_solution {path.name}: MAPF paths have no .tour / .sol format; save them as JSON")
    if len(solution) and np.ndim(solution[0]) == 0:
        lines = [f"NAME : {path.stem}", "TYPE : TOUR", f"DIMENSION : {len(solution)}"]
        if cost is not None:
            lines.append(f"COMMENT : length {cost:g}")
        lines += ["TOUR_SECTION", *(str(int(v) + 1) for v in solution), "-1", "EOF"]
        path.write_text("\n".join(lines) + "\n")
        return
    data = {} if cost is None else {"Cost": _number(cost)}
    vrplib.write_solution(path, [list(map(int, r)) for r in solution], data)
