"""The README's first lines are the two commands users and CI run; .ci/run runs exactly the test one."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text().splitlines()
    fence = readme.index("```bash")
    main_cmd, test_cmd = readme[fence + 1], readme[fence + 2]
    assert "ncosolve leaderboard" in main_cmd and "pytest" in test_cmd
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci
    assert ci.index("python -m pip install -q torch==2.13.0") < ci.index(test_cmd)
