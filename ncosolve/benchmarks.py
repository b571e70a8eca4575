"""Shipped benchmark suites (TSPLIB, CVRPLIB, Solomon) and their optimal / best-known values."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

from ncosolve.errors import NcoError
from ncosolve.io.readers import read_instance, read_solution


def data_dir() -> Path:
    """Folder of the data shipped inside the package."""
    return Path(str(resources.files("ncosolve") / "data"))


@dataclass(frozen=True)
class Suite:
    """A named, fixed list of instances with a reference value each (``reference`` says what it is)."""

    name: str
    problem: str
    description: str
    reference: str
    loader: Callable[[], list]


_SUITES: dict[str, Suite] = {}


def register_suite(name: str, problem: str, description: str, reference: str):
    """Decorator adding a suite whose loader returns the instances (with names known to ``best_known``)."""

    def deco(loader: Callable[[], list]) -> Callable[[], list]:
        _SUITES[name] = Suite(name, problem, description, reference, loader)
        return loader

    return deco


def suites() -> list[Suite]:
    """All registered suites."""
    return list(_SUITES.values())


def load_benchmark(name: str) -> list:
    """The instances of suite ``name`` (``ncosolve benchmarks`` lists the names)."""
    if name not in _SUITES:
        raise NcoError(f"unknown benchmark {name!r}; known: {', '.join(sorted(_SUITES))}")
    return list(_SUITES[name].loader())


_REFERENCES: dict[str, float] = {}


def add_references(values: dict[str, float]) -> None:
    """Record reference values (optimum or best known) by instance name."""
    _REFERENCES.update(values)


@lru_cache(maxsize=None)
def _shipped_references() -> dict[str, float]:
    out = {}
    with open(data_dir() / "tsplib" / "optimal.csv") as f:
        for row in csv.DictReader(f):
            out[row["name"]] = float(row["optimal"])
    for folder in ("cvrplib", "solomon"):
        for sol in sorted((data_dir() / folder).glob("*.sol")):
            cost = read_solution(sol)["cost"]
            if cost is not None:
                out[sol.stem] = float(cost)
    return out


def best_known(name_or_instance) -> float | None:
    """Optimal or best-known objective of a named benchmark instance; None if unknown."""
    name = getattr(name_or_instance, "name", name_or_instance)
    if name in _REFERENCES:
        return _REFERENCES[name]
    return _shipped_references().get(name)


@lru_cache(maxsize=None)
def _read_folder(folder: str, suffix: str) -> tuple:
    files = sorted((data_dir() / folder).glob(f"*{suffix}"))
    return tuple(read_instance(f) for f in files)


def _tsplib(max_n: int | None = None) -> list:
    return [i for i in _read_folder("tsplib", ".tsp") if max_n is None or i.n <= max_n]


def _cvrplib(prefix: str) -> list:
    return [i for i in _read_folder("cvrplib", ".vrp") if i.name.startswith(prefix + "-")]


def _solomon(prefix: str = "") -> list:
    return [i for i in _read_folder("solomon", ".vrp") if i.name.startswith(prefix)
            and (not prefix or i.name[len(prefix)].isdigit())]


register_suite("tsplib", "tsp", "51 TSPLIB EUC_2D instances, 51-13509 nodes", "proven optima")(_tsplib)
register_suite("tsplib-200", "tsp", "TSPLIB instances of at most 200 nodes", "proven optima")(lambda: _tsplib(200))
register_suite("tsplib-1000", "tsp", "TSPLIB instances of at most 1000 nodes", "proven optima")(lambda: _tsplib(1000))
for _set in "ABPX":
    register_suite(f"cvrplib-{_set}", "cvrp", f"CVRPLIB set {_set}", "best-known solutions (.sol)")(
        lambda s=_set: _cvrplib(s))
register_suite("solomon", "cvrptw", "Solomon VRPTW C1, C2, R2, RC1", "best-known solutions (.sol)")(_solomon)
for _cls in ("C1", "C2", "R2", "RC1"):
    register_suite(f"solomon-{_cls}", "cvrptw", f"Solomon VRPTW class {_cls}", "best-known solutions (.sol)")(
        lambda c=_cls: _solomon(c))

QUICK = ("eil51", "berlin52", "st70", "A-n32-k5", "A-n33-k5", "P-n16-k8", "C101", "R201")


@register_suite("quick", "routing", "8 small TSPLIB / CVRPLIB / Solomon instances for smoke runs",
                "optima / best-known solutions")
def _quick() -> list:
    everything = {i.name: i for i in _tsplib(200) + _cvrplib("A") + _cvrplib("P") + _solomon()}
    return [everything[name] for name in QUICK]
