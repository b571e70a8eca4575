"""Reference values (optimum or best known) bound to the instances they were computed for.

A reference is keyed by (suite, instance name) and carries a fingerprint of the instance's data (a hash of
every field but the name). ``best_known(instance)`` returns a value only when the instance's fingerprint
matches the reference's, so an instance that merely shares a suite instance's name (a generated instance
drawn differently, a user's edited file) gets None rather than another instance's value.

The fingerprints of the shipped suites are stored in ``data/references/fingerprints.json`` (built by
``python scripts/build_references.py --fingerprints``; a test checks them against the loaded suites); suites
without stored ones (data read from a path, plugins) are fingerprinted when first asked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ncosolve.catalog import SuiteSpec, get_suite, suites

FINGERPRINTS = "fingerprints.json"
STORED = "stored"  # SuiteSpec.reference for suites whose references are in data/references/<suite>.json


def data_dir() -> Path:
    """Folder of the data shipped inside the package."""
    return Path(__file__).resolve().parent / "data"


def _feed(h, value) -> None:
    if value is None:
        h.update(b"N")
    elif isinstance(value, np.ndarray):
        h.update(f"A{value.dtype.str}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(f"D{type(value).__name__}".encode())
        for f in dataclasses.fields(value):
            if f.name != "name":
                h.update(f.name.encode())
                _feed(h, getattr(value, f.name))
    elif isinstance(value, (list, tuple)):
        h.update(f"L{len(value)}".encode())
        for v in value:
            _feed(h, v)
    elif isinstance(value, dict):
        h.update(f"M{len(value)}".encode())
        for k in sorted(value, key=str):
            h.update(str(k).encode())
            _feed(h, value[k])
    else:
        h.update(repr(value).encode())


def fingerprint(instance) -> str:
    """A hash of the instance's data (every dataclass field but ``name``): equal for equal data."""
    h = hashlib.sha256()
    _feed(h, instance)
    return h.hexdigest()[:20]


def reference_path(suite: str) -> Path:
    """Where a suite's stored references live (``data/references/<suite>.json``)."""
    return data_dir() / "references" / f"{suite}.json"


@lru_cache(maxsize=None)
def _reference_doc(suite: str) -> str | None:
    path = reference_path(suite)
    return path.read_text() if path.exists() else None


def load_reference_file(suite: str) -> dict | None:
    """The stored reference document of ``suite`` (values and how they were made), or None if not built."""
    text = _reference_doc(suite)
    return None if text is None else json.loads(text)


def stored_values(suite: str) -> dict[str, float]:
    """The stored reference values of ``suite`` ({} when none are built yet)."""
    doc = load_reference_file(suite)
    return {} if doc is None else {k: float(v) for k, v in doc["values"].items()}


def reference_text(spec: SuiteSpec) -> str:
    """What a suite's references are: its own text, or for stored ones how they were made (or how to build them)."""
    if spec.reference != STORED:
        return spec.reference
    doc = load_reference_file(spec.name)
    if doc is None:
        return f"none stored yet: python scripts/build_references.py --suite {spec.name}"
    if "how" in doc:
        return doc["how"]
    return f"best of {doc['method']} in {doc['time_limit']:g} s per instance (stored, not proven optimal)"


@lru_cache(maxsize=None)
def _stored_fingerprints() -> dict[str, dict[str, str]]:
    path = data_dir() / "references" / FINGERPRINTS
    return json.loads(path.read_text()) if path.exists() else {}


@lru_cache(maxsize=None)
def _values(spec: SuiteSpec) -> dict[str, float]:
    return spec.reference_values()


@lru_cache(maxsize=None)
def _loaded_fingerprints(spec: SuiteSpec) -> dict[str, str]:
    return {inst.name: fingerprint(inst) for inst in spec.load()}


def suite_fingerprint(spec: SuiteSpec, name: str) -> str | None:
    """The fingerprint of instance ``name`` of a suite: stored, else from the loaded suite (None: not in it)."""
    stored = _stored_fingerprints().get(spec.name)
    if stored is not None:
        return stored.get(name)
    return _loaded_fingerprints(spec).get(name)


def suite_reference(spec: SuiteSpec, instance) -> float | None:
    """The reference of ``instance`` in suite ``spec``: its value if the suite holds an instance of that name and
    the same data, else None."""
    value = _values(spec).get(getattr(instance, "name", None))
    if value is None or suite_fingerprint(spec, instance.name) != fingerprint(instance):
        return None
    return value


def best_known(instance, suite: str | None = None) -> float | None:
    """Optimal or best-known objective of a benchmark instance; None for an instance of no suite.

    ``instance``: an instance (matched by name *and* data: see the module docstring), or a string
    ``"SUITE:NAME"`` or a bare instance name (returned when the suites holding that name agree on one value).
    ``suite``: look in that suite first (a plugin suite holding a shipped instance without a reference of its own
    gets the shipped one: same name, same data).
    """
    if isinstance(instance, str):
        suite_name, sep, name = instance.rpartition(":")
        specs = [get_suite(suite or suite_name)] if (suite or sep) else suites()
        found = {_values(s)[name] for s in specs if name in _values(s)}
        return found.pop() if len(found) == 1 else None
    specs = suites()
    if suite is not None:  # that suite's own reference first, else any suite's for the same data
        own = get_suite(suite)
        specs = [own] + [s for s in specs if s is not own]
    for spec in specs:
        try:
            value = suite_reference(spec, instance)
        except Exception:  # a suite whose data is absent cannot hold this instance
            continue
        if value is not None:
            return value
    return None


def build_fingerprints(names: list[str] | None = None) -> dict[str, dict[str, str]]:
    """Fingerprints of every instance of the given (default: every loadable, shipped-data) suites."""
    out = {}
    for spec in suites():
        if names is not None and spec.name not in names:
            continue
        try:
            out[spec.name] = {inst.name: fingerprint(inst) for inst in spec.load()}
        except Exception as exc:  # noqa: BLE001  (data not installed: such suites are fingerprinted on use)
            print(f"{spec.name}: skipped ({exc})")
    return out
