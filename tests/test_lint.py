"""ruff (pyflakes, pycodestyle, import order; config in pyproject.toml) is part of `make test`."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "dance_rl", "tests", "scripts"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"ruff check found problems (fix them or run `ruff check --fix`):\n{proc.stdout}{proc.stderr}"
