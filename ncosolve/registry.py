"""The method registry: solvers register next to their code with ``@register``; ``methods()`` lists them."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Callable

from ncosolve.errors import MissingDependency, UnknownMethod


@dataclass(frozen=True)
class Method:
    """A registered solver. ``fn(instance, time_limit, seed, **options) -> (solution, info)``.

    ``requires`` lists import names of optional dependencies and ``extra`` the pip extra providing them.
    ``default_time_limit`` applies when ``solve`` gets ``time_limit=None`` (None: the method needs no budget).
    ``strength`` orders methods for ``method="auto"`` (higher is stronger).
    ``prepare(instance)`` does the one-time work a budget should not pay (imports, JIT compilation for the
    instance's shapes); ``solve`` runs it before starting the clock and reports its seconds as ``prepare_s``.
    """

    name: str
    fn: Callable
    problems: tuple[str, ...]
    description: str
    requires: tuple[str, ...] = ()
    extra: str | None = None
    default_time_limit: float | None = None
    strength: int = 0
    prepare: Callable | None = None

    @property
    def available(self) -> bool:
        """Whether every optional dependency imports."""
        return all(importlib.util.find_spec(mod) is not None for mod in self.requires)

    def check_available(self) -> None:
        """Raise MissingDependency naming the extra to install."""
        if not self.available:
            missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
            hint = f"pip install 'ncosolve[{self.extra}]'" if self.extra else f"pip install {' '.join(missing)}"
            raise MissingDependency(f"method {self.name!r} needs {', '.join(missing)}: {hint}")


_METHODS: dict[str, Method] = {}
_DEFERRED: list[str] = []  # modules whose @register calls run on the first lookup (they import torch)


def defer(module: str) -> None:
    """Register ``module``'s methods on the first ``get_method`` / ``methods`` call instead of now, so that
    ``import ncosolve`` (and ``ncosolve --help``) does not pay for torch until a method is looked up."""
    _DEFERRED.append(module)


def _load_deferred() -> None:
    while _DEFERRED:
        importlib.import_module(_DEFERRED.pop(0))


def register(name: str, problems: tuple[str, ...], description: str, *, requires: tuple[str, ...] = (),
             extra: str | None = None, default_time_limit: float | None = None, strength: int = 0,
             prepare: Callable | None = None):
    """Decorator registering ``fn`` as method ``name`` for the given problem kinds (fields: see ``Method``)."""

    def deco(fn: Callable) -> Callable:
        _METHODS[name] = Method(name, fn, tuple(problems), description, tuple(requires), extra,
                                default_time_limit, strength, prepare)
        return fn

    return deco


def get_method(name: str) -> Method:
    """The registered method ``name``, or UnknownMethod listing the known ones."""
    _load_deferred()
    if name not in _METHODS:
        raise UnknownMethod(f"unknown method {name!r}; known: {', '.join(sorted(_METHODS))}")
    return _METHODS[name]


def methods(problem: str | None = None, available_only: bool = False) -> list[Method]:
    """Registered methods, optionally only those for ``problem`` and/or whose dependencies are installed."""
    _load_deferred()
    out = [m for m in _METHODS.values() if problem is None or problem in m.problems]
    if available_only:
        out = [m for m in out if m.available]
    return sorted(out, key=lambda m: m.name)
