"""Shipped benchmark suites (TSPLIB, CVRPLIB, Solomon, MovingAI MAPF, SiouxFalls DNDP read from a path) and their
optimal / best-known values.

A suite fixes its instances and a reference value per instance; ``maximise`` says whether its objective is
maximised (lifelong MAPF throughput), so that gaps and wins read the right way. References come from the
benchmark files themselves or from a stored ``data/references/<suite>.json`` computed once by
``scripts/build_references.py`` (values and how they were made).
"""

from __future__ import annotations

import csv
import json
import os
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


DATA_ENV = "NCOSOLVE_DATA"


def external_data_dir() -> Path:
    """Folder of benchmark data that may not ship (TransportationNetworks-derived): ``$NCOSOLVE_DATA``, else
    ``shared/data`` beside the source checkout (``../shared/data`` from the repository root)."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass(frozen=True)
class Suite:
    """A named, fixed list of instances with a reference value each (``reference`` says what it is);
    ``maximise``: a higher objective is better (gaps then count how far below the reference a value is)."""

    name: str
    problem: str
    description: str
    reference: str
    loader: Callable[[], list]
    maximise: bool = False


_SUITES: dict[str, Suite] = {}


def register_suite(name: str, problem: str, description: str, reference: str, maximise: bool = False):
    """Decorator adding a suite whose loader returns the instances (with names known to ``best_known``).

    A loader whose data is absent raises NcoError saying what is missing and where to put it."""

    def deco(loader: Callable[[], list]) -> Callable[[], list]:
        _SUITES[name] = Suite(name, problem, description, reference, loader, maximise)
        return loader

    return deco


def suites() -> list[Suite]:
    """All registered suites."""
    return list(_SUITES.values())


def get_suite(name: str) -> Suite:
    """The registered suite ``name``; NcoError naming the known ones otherwise."""
    if name not in _SUITES:
        raise NcoError(f"unknown benchmark {name!r}; known: {', '.join(sorted(_SUITES))}")
    return _SUITES[name]


def maximises(suite: str) -> bool:
    """Whether suite ``suite`` maximises its objective (False for unknown suites: costs are minimised)."""
    return suite in _SUITES and _SUITES[suite].maximise


def instance_size(instance) -> tuple[int, str]:
    """The size that matters most, with its unit: nodes (routing), agents (MAPF), candidates (network design)."""
    if hasattr(instance, "num_agents"):
        return instance.num_agents, "agents"
    if hasattr(instance, "num_candidates"):
        return instance.num_candidates, "candidates"
    return instance.n, "nodes"


def load_benchmark(name: str) -> list:
    """The instances of suite ``name`` (``ncosolve benchmarks`` lists the names)."""
    return list(get_suite(name).loader())


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


def reference_path(suite: str) -> Path:
    """Where a suite's stored references live (``data/references/<suite>.json``)."""
    return data_dir() / "references" / f"{suite}.json"


def load_reference_file(suite: str) -> dict | None:
    """The stored reference document of ``suite`` (values and how they were made), or None if not built."""
    path = reference_path(suite)
    if not path.exists():
        return None
    return json.loads(path.read_text())


def use_reference_file(suite: str) -> dict | None:
    """Record the stored references of ``suite`` (if built) for ``best_known``; the document, or None."""
    doc = load_reference_file(suite)
    if doc is not None:
        add_references(doc["values"])
    return doc


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


def stored_reference_text(suite: str, doc: dict | None) -> str:
    """What a suite's stored references are (``how`` in the document), or how to build them."""
    if doc is None:
        return f"none stored yet: python scripts/build_references.py --suite {suite}"
    return doc["how"]


# mapf-movingai: (file in data/movingai, agents, seed of the random scenario for maps without a .scen)
MAPF_MOVINGAI = (("random-32-32-10-random-1.scen", 10, None), ("random-32-32-10-random-1.scen", 20, None),
                 ("random-32-32-10-random-1.scen", 30, None), ("empty-16-16.map", 16, 0),
                 ("maze-32-32-2.map", 8, 0), ("room-32-32-4.map", 12, 0), ("warehouse-10-20-10-2-1.map", 20, 0))


@lru_cache(maxsize=None)
def _mapf_movingai() -> tuple:
    from ncosolve.io.movingai import read_movingai

    folder = data_dir() / "movingai"
    return tuple(read_movingai(folder / f, agents=k, seed=seed or 0) for f, k, seed in MAPF_MOVINGAI)


register_suite(
    "mapf-movingai", "mapf",
    "7 one-shot MAPF instances on shipped MovingAI maps: random-32-32-10-random-1.scen's first 10 / 20 / 30 "
    "agents, and seeded random scenarios (read_instance(map, agents, seed=0)) on empty-16-16 (16 agents), "
    "maze-32-32-2 (8), room-32-32-4 (12), warehouse-10-20-10-2-1 (20); objective: sum of costs, 4-connected "
    "moves and waits (the .scen column of octile lengths is not used)",
    stored_reference_text("mapf-movingai", use_reference_file("mapf-movingai")))(lambda: list(_mapf_movingai()))

DNDP_FILES = tuple(f"SF_DNDP_10_{k}.txt" for k in range(1, 9))


@lru_cache(maxsize=None)
def _dndp_siouxfalls(folder: Path) -> tuple:
    from ncosolve.io.tntp import read_dndp

    files = [folder / "dndp" / f for f in DNDP_FILES]
    trips = folder / "tntp" / "SiouxFalls_trips.tntp"
    missing = [p for p in files + [trips] if not p.is_file()]
    if missing:
        raise NcoError(f"dndp-siouxfalls: {missing[0]} not found ({len(missing)} file(s) missing). The SiouxFalls "
                       "DNDP files derive from TransportationNetworks (academic research use only), so ncosolve "
                       f"does not ship them: put {DNDP_FILES[0]}..{DNDP_FILES[-1]} in {folder / 'dndp'} and "
                       f"SiouxFalls_trips.tntp in {folder / 'tntp'}, or set ${DATA_ENV} to a folder holding dndp/ "
                       "and tntp/")
    return tuple(read_dndp(f, trips=trips) for f in files)


register_suite(
    "dndp-siouxfalls", "ndp",
    "8 SiouxFalls DNDP instances SF_DNDP_10_1..8 (Rey 2019; 10 candidate links each, budget half their total "
    "cost); objective: total travel time at user equilibrium. NOT SHIPPED (TransportationNetworks licence, "
    f"academic use only): read from ${DATA_ENV} or ../shared/data (dndp/ and tntp/SiouxFalls_trips.tntp)",
    stored_reference_text("dndp-siouxfalls", use_reference_file("dndp-siouxfalls")))(
    lambda: list(_dndp_siouxfalls(external_data_dir())))
