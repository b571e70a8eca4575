"""Hypothesis profiles for the fuzzers: a short one for the default run, a long one for ``-m slow``."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# Deadlines are enforced by fuzzing.guarded (a hard alarm per input); hypothesis' own deadline would only
# flag slow inputs after the fact and flake on a loaded 2-core machine.
settings.register_profile("fuzz-short", max_examples=50, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("fuzz-long", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
