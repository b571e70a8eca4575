"""Network-design suites: ``ndp-synthetic`` on shipped synthetic networks, and ``dndp-siouxfalls`` read from a path
(TransportationNetworks-derived data may not ship)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from ncosolve.errors import NcoError

DATA_ENV = "NCOSOLVE_DATA"
DNDP_FILES = tuple(f"SF_DNDP_10_{k}.txt" for k in range(1, 9))


def external_data_dir() -> Path:
    """Folder of benchmark data that may not ship (TransportationNetworks-derived): ``$NCOSOLVE_DATA``, else
    ``shared/data`` beside the source checkout (``../shared/data`` from the repository root)."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    return Path(__file__).resolve().parents[3] / "shared" / "data"


@lru_cache(maxsize=None)
def _synthetic() -> tuple:
    from ncosolve.problems.network_generators import (braess, dndp_instance, grid_city, lane_addition_instance,
                                                      lane_swap_instance, ring_radial_city)

    trips = 2500.0  # trips per zone: congested (volume / capacity around 1-2 on the busiest links)
    return (braess(),
            dndp_instance(grid_city(4, 4, seed=0, trips_per_zone=trips)[0], 10, seed=0),
            dndp_instance(ring_radial_city(2, 6, seed=3, trips_per_zone=trips)[0], 8, seed=3),
            lane_swap_instance(*ring_radial_city(2, 6, seed=1, trips_per_zone=trips), max_pairs=6, seed=1),
            lane_addition_instance(*grid_city(3, 3, seed=2, trips_per_zone=trips), budget_ratio=0.3))


def synthetic(_suite: str = "ndp-synthetic") -> list:
    """The 5 instances of ``ndp-synthetic``."""
    return list(_synthetic())


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


def dndp_siouxfalls(_suite: str = "dndp-siouxfalls") -> list:
    """The 8 SiouxFalls DNDP instances, from ``external_data_dir()`` (NcoError saying what is missing)."""
    return list(_dndp_siouxfalls(external_data_dir()))
