"""Shared fuzzing machinery: text mutations of real instance files and a per-input time/memory guard.

The mutations take their choices from a ``draw(lo, hi) -> int`` callable, so hypothesis (``data.draw``) and
the seeded reliability benchmark (``random.Random.randint``) drive the same operators.
"""

from __future__ import annotations

import contextlib
import re
import resource
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import ncosolve
from ncosolve.benchmarks import data_dir

Draw = Callable[[int, int], int]

# Tokens a corrupted or hand-edited file tends to carry: non-numbers, NaN/inf, huge, negative, empty, stray markup.
GARBAGE = ("nan", "NaN", "inf", "-inf", "1e308", "-1e308", "99999999999999999999", "1e9", "-1", "-7", "0", "-0",
           "1.5", "abc", "", "@", ":", ";", "EOF", "\x00", "\u00e9", "<END OF METADATA>", "NODE_COORD_SECTION",
           "Origin", "map", "version")

_SECTION = re.compile(r"^\s*([A-Z_]+SECTION|EOF|Origin\b|<|map$|VEHICLE|CUSTOMER)", re.IGNORECASE)


def _truncate(text: str, draw: Draw) -> str:
    return text[:draw(0, len(text))]


def _drop_line(text: str, draw: Draw) -> str:
    lines = text.splitlines(keepends=True)
    if lines:
        del lines[draw(0, len(lines) - 1)]
    return "".join(lines)


def _duplicate_line(text: str, draw: Draw) -> str:
    lines = text.splitlines(keepends=True)
    if lines:
        k = draw(0, len(lines) - 1)
        lines.insert(k, lines[k])
    return "".join(lines)


def _swap_lines(text: str, draw: Draw) -> str:
    lines = text.splitlines(keepends=True)
    if len(lines) > 1:
        i, j = draw(0, len(lines) - 1), draw(0, len(lines) - 1)
        lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


def _replace_token(text: str, draw: Draw) -> str:
    spans = [m.span() for m in re.finditer(r"[^\s:;]+", text)]
    if not spans:
        return text
    start, end = spans[draw(0, len(spans) - 1)]
    return text[:start] + GARBAGE[draw(0, len(GARBAGE) - 1)] + text[end:]


def _shuffle_sections(text: str, draw: Draw) -> str:
    """Cut the file at section headers and put the pieces back in a drawn order."""
    blocks: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if _SECTION.match(line) and blocks[-1]:
            blocks.append([])
        blocks[-1].append(line)
    order = list(range(len(blocks)))
    for k in range(len(order) - 1, 0, -1):  # Fisher-Yates with drawn indices
        j = draw(0, k)
        order[k], order[j] = order[j], order[k]
    return "".join("".join(blocks[k]) for k in order)


MUTATIONS = (_truncate, _drop_line, _duplicate_line, _swap_lines, _replace_token, _shuffle_sections)


def mutate(text: str, draw: Draw, max_ops: int = 4) -> str:
    """Apply 1..max_ops drawn mutations (truncate, drop/duplicate/swap lines, garbage tokens, shuffled sections)."""
    for _ in range(draw(1, max_ops)):
        text = MUTATIONS[draw(0, len(MUTATIONS) - 1)](text, draw)
    return text


class Hang(BaseException):
    """Raised by the guard's alarm; a BaseException so that no ``except Exception`` in a reader swallows it."""


@contextlib.contextmanager
def guarded(seconds: float, extra_memory: int = 3 << 30):
    """Fail with ``Hang`` after ``seconds`` and cap the address space at its current size + ``extra_memory``.

    The memory cap turns a header that asks for an absurd allocation into a ``MemoryError`` the test sees,
    instead of the machine swapping.
    """
    def _alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm + extra_memory if hard == resource.RLIM_INFINITY else min(vm + extra_memory, hard)
    previous = signal.signal(signal.SIGALRM, _alarm)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def outcome(fn: Callable[[], object], seconds: float = 5.0) -> str:
    """``"loaded"`` or ``"refused"`` (an ``NcoError``); any other exception propagates, a hang raises ``Hang``."""
    with guarded(seconds):
        try:
            fn()
        except ncosolve.NcoError:
            return "refused"
    return "loaded"


@dataclass(frozen=True)
class Seed:
    """A real file to mutate: the reader family, the file mutated, companions copied beside it, read options."""

    reader: str
    path: Path
    companions: tuple[Path, ...] = ()
    options: dict = field(default_factory=dict)
    target: str = "instance"  # "instance" (read_instance) or "solution" (read_solution)
    read: str | None = None  # the file name read when it is not the mutated one (a net beside mutated trips)

    @property
    def id(self) -> str:
        return f"{self.reader}:{self.path.name}" + (f">{self.read}" if self.read else "")


def solomon_text(limit: int = 25) -> str:
    """C101's first ``limit`` customers in Solomon's original text layout (no such file ships)."""
    inst = ncosolve.read_instance(data_dir() / "solomon" / "C101.vrp")
    rows = [f"{k:5d}{x:11.0f}{y:11.0f}{d:11.0f}{a:11.0f}{b:11.0f}{s:11.0f}"
            for k, ((x, y), d, (a, b), s) in enumerate(zip(inst.coords, inst.demands, inst.time_windows,
                                                            inst.service_times)) if k <= limit]
    return ("C101\n\nVEHICLE\nNUMBER     CAPACITY\n  25         200\n\nCUSTOMER\n"
            "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"
            + "\n".join(rows) + "\n")


def seeds(workdir: Path) -> list[Seed]:
    """The real files the fuzzers start from; TNTP/DNDP ones only where ../shared/data holds them."""
    data = data_dir()
    tests = Path(__file__).resolve().parent.parent / "data"
    solomon = workdir / "C101_25.txt"
    solomon.write_text(solomon_text())
    scen_src = data / "movingai" / "random-32-32-10-random-1.scen"
    scen = workdir / "random-32-32-10-random-1.scen"
    scen.write_text("\n".join(scen_src.read_text().splitlines()[:9]) + "\n")
    out = [
        Seed("tsplib", data / "tsplib" / "eil51.tsp"),
        Seed("tsplib", tests / "tiny_full.atsp"),
        Seed("tsplib", tests / "tiny_lower_diag.tsp"),
        Seed("tsplib", tests / "tiny_upper_row.tsp"),
        Seed("tsplib", tests / "geo3.tsp"),
        Seed("vrplib", data / "cvrplib" / "A-n32-k5.vrp"),
        Seed("vrplib", data / "solomon" / "C101.vrp"),
        Seed("solomon", solomon),
        Seed("movingai-map", data / "movingai" / "empty-8-8.map"),
        Seed("movingai-map", data / "movingai" / "maze-32-32-2.map", options={"agents": 3}),
        Seed("movingai-scen", scen, companions=(data / "movingai" / "random-32-32-10.map",)),
        Seed("tntp", data / "networks" / "Braess_net.tntp", companions=(data / "networks" / "Braess_trips.tntp",)),
        Seed("tntp", data / "networks" / "Braess_trips.tntp", companions=(data / "networks" / "Braess_net.tntp",),
             read="Braess_net.tntp"),
        Seed("solution", data / "cvrplib" / "A-n32-k5.sol", target="solution"),
    ]
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"  # ../shared beside the checkout
    sioux, trips = shared / "tntp" / "SiouxFalls_net.tntp", shared / "tntp" / "SiouxFalls_trips.tntp"
    if sioux.is_file() and trips.is_file():
        out += [Seed("tntp", sioux, companions=(trips,)), Seed("tntp", trips, companions=(sioux,), read=sioux.name)]
        dndp = shared / "dndp" / "SF_DNDP_10_1.txt"
        if dndp.is_file():
            out.append(Seed("tntp-dndp", dndp, companions=(trips,), options={"trips": "SiouxFalls_trips.tntp"}))
    tour = workdir / "eil51.tour"
    tour.write_text("NAME : eil51.tour\nTYPE : TOUR\nDIMENSION : 51\nTOUR_SECTION\n"
                    + "\n".join(str(k) for k in range(1, 52)) + "\n-1\nEOF\n")
    out.append(Seed("solution", tour, target="solution"))
    return out


def read_mutated(seed: Seed, text: str) -> Callable[[], object]:
    """A thunk that writes ``text`` under the seed's file name (companions beside it) and reads it back."""
    def run():
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for companion in seed.companions:
                shutil.copy(companion, tmp / companion.name)
            (tmp / seed.path.name).write_text(text, encoding="utf-8", errors="surrogateescape")
            target = tmp / (seed.read or seed.path.name)
            options = {k: (str(tmp / v) if k == "trips" else v) for k, v in seed.options.items()}
            if seed.target == "solution":
                return ncosolve.read_solution(target)
            return ncosolve.read_instance(target, **options)
    return run
