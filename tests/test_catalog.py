"""The catalog: specs with lazy entry points, one place for the built-ins, third-party specs through entry points."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import ncosolve
from ncosolve import catalog
from ncosolve.specs import METHODS, SUITES


def test_every_builtin_spec_names_code_that_exists():
    """Each entry point is a 'module:function' string that resolves (dependencies permitting), so a typo in the
    one catalog file cannot hide until a user picks that method."""
    for spec in METHODS:
        assert isinstance(spec.entry, str) and ":" in spec.entry, spec.name
        if spec.available:
            assert callable(spec.fn), spec.name
            assert spec.prepare is None or callable(spec.prepare_fn), spec.name
    for spec in SUITES:
        assert callable(catalog.resolve(spec.loader)), spec.name
        assert spec.references is None or callable(catalog.resolve(spec.references)), spec.name
    assert len({m.name for m in METHODS}) == len(METHODS) and len({s.name for s in SUITES}) == len(SUITES)


def test_a_registered_function_is_a_spec_and_leaves_with_remove(toy_methods, eil51):
    toy_methods("t-first", lambda inst, time_limit, seed: (list(range(inst.n)), {}), default_time_limit=3.0)
    spec = catalog.get_method("t-first")
    assert isinstance(spec, ncosolve.MethodSpec) and spec.default_time_limit == 3.0 and callable(spec.entry)
    assert ncosolve.solve(eil51, method="t-first").info["time_limit"] == 3.0
    catalog.remove("t-first")
    with pytest.raises(ncosolve.UnknownMethod, match="unknown method 't-first'"):
        catalog.get_method("t-first")


def test_a_bad_entry_point_is_a_clear_error():
    with pytest.raises(ncosolve.NcoError, match="expected 'module:function'"):
        catalog.resolve("no_colon_here")


PLUGIN_CODE = '''
def identity(instance, time_limit, seed):
    return list(range(instance.n)), {"from": "entry point"}

def tiny():
    import ncosolve
    return ncosolve.generate("tsp", 2, 8, seed=5)
'''

PLUGIN_SPECS = '''
from ncosolve.catalog import MethodSpec, SuiteSpec

METHODS = [MethodSpec("ep-identity", ("tsp",), "ep_plugin_mod:identity", "file order, from an entry point")]
SUITE = SuiteSpec("ep-tiny", "tsp", "two 8-node draws", "none", "ep_plugin_mod:tiny")
'''


def test_third_party_methods_and_suites_come_in_through_entry_points(tmp_path):
    (tmp_path / "ep_plugin_mod.py").write_text(textwrap.dedent(PLUGIN_CODE))  # the solver code
    (tmp_path / "ep_plugin_specs.py").write_text(textwrap.dedent(PLUGIN_SPECS))  # what the entry points name
    info = tmp_path / "ep_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ncosolve.methods]\nmine = ep_plugin_specs:METHODS\n\n"
                                           "[ncosolve.suites]\ntiny = ep_plugin_specs:SUITE\n")
    code = ("import sys, ncosolve; names = [m.name for m in ncosolve.methods('tsp')]; assert 'ep-identity' in names; "
            "assert 'ep_plugin_mod' not in sys.modules, 'listing imported the plugin code'; "
            "inst = ncosolve.load_benchmark('ep-tiny')[0]; r = ncosolve.solve(inst, method='ep-identity'); "
            "assert r.feasible and r.info['from'] == 'entry point'; print('ok')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
