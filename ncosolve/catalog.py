"""The catalog of methods and benchmark suites: declarative specs with lazy ``"module:function"`` entry points.

Listing (``methods()``, ``suites()``) imports no solver: a spec names its code, which is imported on first use
(as Gymnasium resolves env entry points). The built-in specs are listed in one place, ``ncosolve.specs``;
third-party packages add theirs through the entry-point groups ``ncosolve.methods`` and ``ncosolve.suites``
(each entry point loads to a spec or an iterable of specs), and scripts or ``--plugin`` modules through
``register`` / ``register_suite`` / ``add``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Callable, Iterable, Union

from ncosolve.errors import MissingDependency, NcoError, UnknownMethod

Entry = Union[str, Callable]  # "package.module:function", or the function itself (plugins, tests)

METHOD_GROUP = "ncosolve.methods"
SUITE_GROUP = "ncosolve.suites"


def resolve(entry: Entry) -> Callable:
    """The callable an entry point names, importing its module (a callable is returned as it is)."""
    if callable(entry):
        return entry
    module, sep, attr = entry.partition(":")
    if not sep:
        raise NcoError(f"entry point {entry!r}: expected 'module:function'")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def entry_module(entry: Entry | None) -> str | None:
    """The module an entry point lives in (without importing it)."""
    if entry is None:
        return None
    return entry.partition(":")[0] if isinstance(entry, str) else getattr(entry, "__module__", None)


@dataclass(frozen=True)
class MethodSpec:
    """A solver: ``entry(instance, time_limit, seed, **options) -> (solution, info)``.

    ``requires`` lists import names of optional dependencies and ``extra`` the pip extra providing them.
    ``default_time_limit`` applies when ``solve`` gets ``time_limit=None`` (None: the method needs no budget).
    ``strength`` orders methods for ``method="auto"`` (higher is stronger). ``prepare(instance)`` does the
    one-time work a budget should not pay (JIT compilation, checkpoint loading, child-process start);
    ``solve`` imports the entry module and runs it before starting the clock, reporting ``prepare_s``.
    """

    name: str
    problems: tuple[str, ...]
    entry: Entry
    description: str
    requires: tuple[str, ...] = ()
    extra: str | None = None
    default_time_limit: float | None = None
    strength: int = 0
    prepare: Entry | None = None

    @property
    def available(self) -> bool:
        """Whether every optional dependency can be imported (found, not imported)."""
        return all(importlib.util.find_spec(mod) is not None for mod in self.requires)

    def check_available(self) -> None:
        """Raise MissingDependency naming the extra to install."""
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            hint = f"pip install 'ncosolve[{self.extra}]'" if self.extra else f"pip install {' '.join(missing)}"
            raise MissingDependency(f"method {self.name!r} needs {', '.join(missing)}: {hint}")

    @property
    def fn(self) -> Callable:
        """The solver function (imports its module on first use)."""
        return resolve(self.entry)

    @property
    def prepare_fn(self) -> Callable | None:
        """The preparation function, or None."""
        return None if self.prepare is None else resolve(self.prepare)


@dataclass(frozen=True)
class SuiteSpec:
    """A named, fixed list of instances (``loader(*args)`` returns them) with a reference value each.

    ``problem`` is the problem kind of its instances ("routing" for a mix of TSP and VRP); ``reference`` says
    what the reference values are (optima, best known, or how stored ones were computed); ``maximise``: a
    higher objective is better. ``references`` (``references(*args) -> {instance name: value}``) gives the
    values; references are bound to the instances' data by fingerprints (``ncosolve.references``).
    """

    name: str
    problem: str
    description: str
    reference: str
    loader: Entry
    args: tuple = ()
    references: Entry | None = None
    maximise: bool = False

    def load(self) -> list:
        """The suite's instances."""
        return list(resolve(self.loader)(*self.args))

    def reference_values(self) -> dict[str, float]:
        """{instance name: reference value} (empty when the suite has none)."""
        return {} if self.references is None else dict(resolve(self.references)(*self.args))


_METHODS: dict[str, MethodSpec] = {}
_SUITES: dict[str, SuiteSpec] = {}
_LOADED = False


def _load_builtin() -> None:
    """Fill the catalog once: the built-in specs, then the packages' entry points (a broken one is reported)."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from ncosolve.specs import METHODS, SUITES

    for spec in (*METHODS, *SUITES):
        add(spec, replace=False)
    for group in (METHOD_GROUP, SUITE_GROUP):
        for ep in metadata.entry_points(group=group):
            try:
                loaded = ep.load()
            except Exception as exc:  # a third-party package's bug must not take the catalog down
                print(f"ncosolve: entry point {ep.name} = {ep.value} ({group}) failed to load: {exc}",
                      file=sys.stderr)
                continue
            for spec in (loaded if isinstance(loaded, (list, tuple)) else [loaded]):
                add(spec)


def add(spec: MethodSpec | SuiteSpec, replace: bool = True) -> MethodSpec | SuiteSpec:
    """Add a method or suite spec to the catalog (a later spec of the same name replaces the earlier one)."""
    table = _METHODS if isinstance(spec, MethodSpec) else _SUITES if isinstance(spec, SuiteSpec) else None
    if table is None:
        raise NcoError(f"catalog: expected a MethodSpec or SuiteSpec, got {type(spec).__name__}")
    if replace or spec.name not in table:
        table[spec.name] = spec
    return spec


def register(name: str, problems: Iterable[str], description: str, *, requires: Iterable[str] = (),
             extra: str | None = None, default_time_limit: float | None = None, strength: int = 0,
             prepare: Entry | None = None):
    """Decorator adding ``fn`` as method ``name`` (for plugins and scripts; fields: see ``MethodSpec``)."""

    def deco(fn: Callable) -> Callable:
        _load_builtin()
        add(MethodSpec(name, tuple(problems), fn, description, tuple(requires), extra, default_time_limit,
                       strength, prepare))
        return fn

    return deco


def register_suite(name: str, problem: str, description: str, reference: str, maximise: bool = False,
                   references: Entry | None = None):
    """Decorator adding a suite whose ``loader()`` returns its instances (for plugins and scripts)."""

    def deco(loader: Callable[[], list]) -> Callable[[], list]:
        _load_builtin()
        add(SuiteSpec(name, problem, description, reference, loader, (), references, maximise))
        return loader

    return deco


def remove(name: str) -> None:
    """Take method or suite ``name`` out of the catalog (tests)."""
    _METHODS.pop(name, None)
    _SUITES.pop(name, None)


def get_method(name: str) -> MethodSpec:
    """The method ``name``, or UnknownMethod listing the known ones."""
    _load_builtin()
    if name not in _METHODS:
        raise UnknownMethod(f"unknown method {name!r}; known: {', '.join(sorted(_METHODS))}")
    return _METHODS[name]


def methods(problem: str | None = None, available_only: bool = False) -> list[MethodSpec]:
    """The methods, optionally only those for ``problem`` and/or whose dependencies are installed; by name."""
    _load_builtin()
    out = [m for m in _METHODS.values() if problem is None or problem in m.problems]
    if available_only:
        out = [m for m in out if m.available]
    return sorted(out, key=lambda m: m.name)


def suites() -> list[SuiteSpec]:
    """Every suite, built-in first, in catalog order."""
    _load_builtin()
    return list(_SUITES.values())


def get_suite(name: str) -> SuiteSpec:
    """The suite ``name``; NcoError naming the known ones otherwise."""
    _load_builtin()
    if name not in _SUITES:
        raise NcoError(f"unknown benchmark {name!r}; known: {', '.join(sorted(_SUITES))}")
    return _SUITES[name]
