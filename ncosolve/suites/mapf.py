"""MAPF suites on the shipped MovingAI maps: one-shot ``mapf-movingai`` and lifelong ``mapf-lifelong``."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ncosolve.references import data_dir

# mapf-movingai: (file in data/movingai, agents, seed of the random scenario for maps without a .scen)
MOVINGAI = (("random-32-32-10-random-1.scen", 10, None), ("random-32-32-10-random-1.scen", 20, None),
            ("random-32-32-10-random-1.scen", 30, None), ("empty-16-16.map", 16, 0),
            ("maze-32-32-2.map", 8, 0), ("room-32-32-4.map", 12, 0), ("warehouse-10-20-10-2-1.map", 20, 0))

# mapf-lifelong: (shipped map, agents, horizon); starts and goal streams drawn with seed 0
LIFELONG = (("random-32-32-10.map", 16, 64), ("room-32-32-4.map", 12, 64), ("warehouse-10-20-10-2-1.map", 16, 64))


@lru_cache(maxsize=None)
def _movingai() -> tuple:
    from ncosolve.io.movingai import read_movingai

    folder = data_dir() / "movingai"
    return tuple(read_movingai(folder / f, agents=k, seed=seed or 0) for f, k, seed in MOVINGAI)


def movingai(_suite: str = "mapf-movingai") -> list:
    """The 7 one-shot instances of ``mapf-movingai``."""
    return list(_movingai())


@lru_cache(maxsize=None)
def _lifelong() -> tuple:
    from ncosolve.io.movingai import read_map
    from ncosolve.problems.mapf_generators import generate_mapf_lifelong

    out = []
    for file, agents, horizon in LIFELONG:
        grid = read_map(data_dir() / "movingai" / file)
        inst = generate_mapf_lifelong(agents=agents, horizon=horizon, seed=0, grid=grid)
        out.append(replace(inst, name=f"{file[:-4]}-lifelong-a{agents}-h{horizon}"))
    return tuple(out)


def lifelong(_suite: str = "mapf-lifelong") -> list:
    """The 3 lifelong instances of ``mapf-lifelong``."""
    return list(_lifelong())
