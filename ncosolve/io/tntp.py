"""TNTP (TransportationNetworks) files: ``*_net.tntp`` with its ``*_trips.tntp``, ``*_flow.tntp`` solutions,
and the SiouxFalls DNDP benchmark format (TNTP links plus a cost column and ``<NUMBER OF NEW LINKS>``).

Node numbers in files are 1-based; ncosolve's are 0-based. Link order is kept as in the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ncosolve.errors import InvalidInstance
from ncosolve.problems.network import NDPInstance, Network

_META = re.compile(r"<([^>]+)>\s*([^<]*)")


def _metadata_and_body(path: Path) -> tuple[dict[str, str], str]:
    """Header fields (``<NAME> value`` lines up to ``<END OF METADATA>``) and the text after them."""
    text = path.read_text(encoding="utf-8", errors="replace")
    head, sep, body = text.partition("<END OF METADATA>")
    if not sep:
        raise InvalidInstance(f"{path.name}: no <END OF METADATA> line (not a TNTP file?)")
    meta = {key.strip().upper(): value.strip() for key, value in _META.findall(head)}
    return meta, body


def _meta_int(meta: dict[str, str], key: str, path: Path) -> int:
    if key not in meta:
        raise InvalidInstance(f"{path.name}: missing <{key}>")
    try:
        return int(float(meta[key].split()[0]))
    except (ValueError, IndexError):
        raise InvalidInstance(f"{path.name}: <{key}> is not a number: {meta[key]!r}") from None


def _link_rows(body: str, path: Path, min_columns: int) -> np.ndarray:
    """Numeric rows of a link table (comment lines start with ``~``; rows end with ``;``)."""
    rows = []
    for line in body.splitlines():
        line = line.strip()
        if not line or line.startswith("~"):
            continue
        fields = line.rstrip(";").replace(";", " ").split()
        if len(fields) < min_columns:
            raise InvalidInstance(f"{path.name}: link line has {len(fields)} columns, expected {min_columns}: {line!r}")
        rows.append([float(v) for v in fields[:min_columns]])
    if not rows:
        raise InvalidInstance(f"{path.name}: no links")
    return np.asarray(rows)


def read_trips(path, num_zones: int | None = None) -> np.ndarray:
    """The (zones, zones) OD demand matrix of a ``*_trips.tntp`` file."""
    path = Path(path)
    meta, body = _metadata_and_body(path)
    zones = _meta_int(meta, "NUMBER OF ZONES", path)
    if num_zones is not None and zones != num_zones:
        raise InvalidInstance(f"{path.name}: {zones} zones, but the network has {num_zones}")
    demand = np.zeros((zones, zones))
    for block in re.split(r"Origin", body)[1:]:
        head, _, rest = block.partition("\n")
        origin = int(head.split()[0])
        for dest, value in re.findall(r"(\d+)\s*:\s*([-+0-9.eE]+)", rest):
            d = int(dest)
            if not (1 <= origin <= zones and 1 <= d <= zones):
                raise InvalidInstance(f"{path.name}: OD pair {origin} -> {d} outside zones 1..{zones}")
            demand[origin - 1, d - 1] += float(value)
    total = meta.get("TOTAL OD FLOW")
    if total and not np.isclose(demand.sum(), float(total.split()[0]), rtol=1e-6):
        raise InvalidInstance(f"{path.name}: demand sums to {demand.sum():.6f}, header says {total}")
    return demand


def _trips_beside(path: Path, trips) -> Path:
    if trips is not None:
        return Path(trips)
    stem = path.name[: -len("_net.tntp")] if path.name.endswith("_net.tntp") else path.stem
    beside = path.with_name(f"{stem}_trips.tntp")
    if not beside.is_file():
        raise InvalidInstance(f"{path.name}: no demand file {beside.name} beside it; pass trips=<path>")
    return beside


def _network(path: Path, meta: dict[str, str], rows: np.ndarray, demand: np.ndarray, name: str) -> Network:
    nodes = _meta_int(meta, "NUMBER OF NODES", path)
    first_thru = _meta_int(meta, "FIRST THRU NODE", path) if "FIRST THRU NODE" in meta else 1
    return Network(num_nodes=nodes, init=rows[:, 0] - 1, term=rows[:, 1] - 1, capacity=rows[:, 2], length=rows[:, 3],
                   free_flow_time=rows[:, 4], b=rows[:, 5], power=rows[:, 6], demand=demand,
                   first_thru_node=first_thru - 1, name=name)


def read_tntp(path, trips=None) -> Network:
    """A ``Network`` from a ``*_net.tntp`` file and its demand (``trips``, default the ``*_trips.tntp`` beside it)."""
    path = Path(path)
    meta, body = _metadata_and_body(path)
    rows = _link_rows(body, path, 7)
    links = _meta_int(meta, "NUMBER OF LINKS", path)
    if len(rows) != links:
        raise InvalidInstance(f"{path.name}: <NUMBER OF LINKS> is {links} but {len(rows)} links were given")
    demand = read_trips(_trips_beside(path, trips), _meta_int(meta, "NUMBER OF ZONES", path))
    name = path.name[: -len("_net.tntp")] if path.name.endswith("_net.tntp") else path.stem
    return _network(path, meta, rows, demand, name)


def read_dndp(path, trips=None, budget_ratio: float = 0.5, ue_tol: float | None = None) -> NDPInstance:
    """A DNDP ``NDPInstance`` from a SiouxFalls DNDP benchmark file (Rey 2020 format).

    The file lists ``<NUMBER OF LINKS>`` existing links, then ``<NUMBER OF NEW LINKS>`` candidate directed links
    with their cost in the last column; each is its own 0/1 decision (10 new links: 1,024 designs). Demand comes
    from ``trips`` (default: a ``*_trips.tntp`` file beside it). Budget = ``budget_ratio`` x the total cost.
    """
    path = Path(path)
    meta, body = _metadata_and_body(path)
    rows = _link_rows(body, path, 11)
    new = _meta_int(meta, "NUMBER OF NEW LINKS", path)
    base = _meta_int(meta, "NUMBER OF LINKS", path)
    if len(rows) != base + new:
        raise InvalidInstance(f"{path.name}: expected {base} links + {new} new links, got {len(rows)} lines")
    demand = read_trips(_trips_beside(path, trips), _meta_int(meta, "NUMBER OF ZONES", path))
    network = _network(path, meta, rows, demand, path.stem)
    cost = rows[base:, 10]
    return NDPInstance(network=network, variant="dndp", candidate_links=np.arange(base, base + new)[:, None],
                       candidate_cost=cost, budget=budget_ratio * cost.sum(), name=path.stem,
                       **({} if ue_tol is None else {"ue_tol": ue_tol}))


def read_flows(path, network: Network | None = None) -> dict[str, np.ndarray]:
    """A ``*_flow.tntp`` solution: ``init``/``term`` (0-based), ``volume``, ``cost`` per listed link.

    With ``network``, also ``flows``: the volumes in the network's link order (each link must be listed once).
    """
    path = Path(path)
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.replace(";", " ").split()
        if len(fields) >= 4 and fields[0].isdigit():
            rows.append([float(v) for v in fields[:4]])
    if not rows:
        raise InvalidInstance(f"{path.name}: no flow lines (From To Volume Cost)")
    arr = np.asarray(rows)
    out = {"init": arr[:, 0].astype(np.int64) - 1, "term": arr[:, 1].astype(np.int64) - 1, "volume": arr[:, 2],
           "cost": arr[:, 3]}
    if network is not None:
        index = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(out["init"], out["term"]))}
        if len(index) != len(arr) or len(arr) != network.num_links:
            raise InvalidInstance(f"{path.name}: lists {len(arr)} links, the network has {network.num_links}")
        try:
            order = [index[(int(i), int(j))] for i, j in zip(network.init, network.term)]
        except KeyError as exc:
            raise InvalidInstance(f"{path.name}: link {exc.args[0]} of the network is missing") from None
        out["flows"] = arr[order, 2]
    return out


def is_tntp_net(path: Path, head: str) -> bool:
    return "<NUMBER OF LINKS>" in head.upper() and "<NUMBER OF NEW LINKS>" not in head.upper()


def is_dndp(path: Path, head: str) -> bool:
    return "<NUMBER OF NEW LINKS>" in head.upper()


