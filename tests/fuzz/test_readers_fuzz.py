"""Every reader fed mutated real files either loads or raises ``NcoError`` — never another exception, never a hang."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzzing import mutate, outcome, read_mutated, seeds

_WORK = tempfile.TemporaryDirectory(prefix="ncosolve-fuzz-")
SEEDS = seeds(Path(_WORK.name))
FUZZED = [pytest.param(s, id=s.id) for s in SEEDS]


def _check(seed, data) -> None:
    text = mutate(seed.path.read_text(errors="replace"), lambda lo, hi: data.draw(st.integers(lo, hi)))
    outcome(read_mutated(seed, text))


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: s.id)
def test_unmutated_seed_loads(seed):
    assert outcome(read_mutated(seed, seed.path.read_text())) == "loaded"


@pytest.mark.parametrize("seed", FUZZED)
@settings(settings.get_profile("fuzz-short"))
@given(data=st.data())
def test_mutated_file_loads_or_is_refused(seed, data):
    _check(seed, data)


@pytest.mark.slow
@pytest.mark.parametrize("seed", FUZZED)
@settings(settings.get_profile("fuzz-long"))
@given(data=st.data())
def test_mutated_file_loads_or_is_refused_long(seed, data):
    _check(seed, data)
