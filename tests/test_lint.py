"""ruff (pyflakes, pycodestyle, import order; config in pyproject.toml) is part of `make test`."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "dance_rl", "tests", "scripts"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, f"ruff check found problems (fix them or run `ruff check --fix`):\n{proc.stdout}{proc.stderr}"


def test_cited_notes_are_in_the_repo():
    """Docstrings and comments cite docs/*.md files that exist, never design notes kept outside the repository."""
    import re

    outside_notes = re.compile(r"DESIGN\.md|reference/\w+\.md|\b(?:physics_rewards|edge_and_skeleton2stage|data_sources"
                               r"|rl_and_ray|metrics)\.md §")
    cited, outside = set(), []
    sources = [*ROOT.glob("dance_rl/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("scripts/*.py"), ROOT / "cluster.yaml"]
    for path in sources:
        text = path.read_text()
        cited |= set(re.findall(r"docs/[\w./-]+\.md", text))
        outside += [f"{path.relative_to(ROOT)}: {m}" for m in outside_notes.findall(text)]
    assert not outside, "cite docs/ instead of notes outside the repository:\n" + "\n".join(outside)
    missing = sorted(c for c in cited if not (ROOT / c).is_file())
    assert cited and not missing, f"cited but not in the repository: {missing}"
