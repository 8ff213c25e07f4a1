"""The package's layers (motion/music → data → diffusion → sim → rewards → rl → cluster → entry points) hold: no
module imports a higher layer, and no import circles.

Static: every ``import`` in dance_rl/ (module level and inside functions) read with ast, so the check is fast and sees
lazy imports too (a lazy import that runs upward is still an upward dependency).
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "dance_rl"

# motion/music → data → diffusion → sim → rewards → rl → cluster → entry points. eval/ and render/ sit beside the
# RL stack: above rewards, used by entry points only. Same rank, different group: no imports between them.
RANK = {"foundation": 0, "motion": 1, "music": 1, "data": 2, "diffusion": 3, "sim": 4, "rewards": 5,
        "rl": 6, "eval": 6, "render": 6, "cluster": 7, "entry": 8}
FOUNDATION = {"dance_rl", "dance_rl.errors", "dance_rl.fileio", "dance_rl.config"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def group(module: str) -> str:
    if module in FOUNDATION:
        return "foundation"
    parts = module.split(".")
    return parts[1] if (PKG / parts[1]).is_dir() else "entry"


def import_graph() -> dict[str, set[str]]:
    """{module: dance_rl modules it imports}; ``from pkg import name`` counts as pkg.name when that is a module."""
    modules = {module_name(p): p for p in PKG.rglob("*.py")}
    graph = defaultdict(set)
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_pkg else 0)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t.split(".")[0] == "dance_rl" and t != name and t in modules}
    return graph


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for src, targets in graph.items():
        for dst in targets:
            gs, gd = group(src), group(dst)
            if gs != gd and RANK[gd] >= RANK[gs]:
                out.append(f"{src} ({gs}) imports {dst} ({gd})")
    return sorted(out)


def test_no_module_imports_a_higher_layer():
    upward = upward_imports(import_graph())
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_no_import_cycles():
    graph = import_graph()
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def test_the_scanner_sees_lazy_and_package_imports():
    graph = import_graph()
    assert "dance_rl.sim.dynamics" in graph["dance_rl.rewards.physics_probe"]  # a function-level import
    assert "dance_rl.motion.clip" in graph["dance_rl.motion.io"]
    assert group("dance_rl.tune") == "entry" and group("dance_rl.rewards.fgd") == "rewards"
    # the rule itself: up and sideways are refused, down and within a group are fine
    assert upward_imports({"dance_rl.rewards.fgd": {"dance_rl.cluster.run", "dance_rl.motion.fk"},
                           "dance_rl.rl.losses": {"dance_rl.eval.fid"},
                           "dance_rl.tune": {"dance_rl.compare", "dance_rl.config"}}) == [
        "dance_rl.rewards.fgd (rewards) imports dance_rl.cluster.run (cluster)",
        "dance_rl.rl.losses (rl) imports dance_rl.eval.fid (eval)"]
