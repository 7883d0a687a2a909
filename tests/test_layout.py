"""The package reads as the pipeline: each stage imports only the stages below it."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "policykb"
# Lowest first. A module may import its own stage and the stages before it, never one after.
STAGES = (("config", "errors", "text", "tokenize"), ("ingest",), ("retrieval",), ("answer",), ("kb", "manage"),
          ("evaluation",), ("app",), ("cli",))


def stage_of(module: str) -> int:
    """Return the stage of a dotted policykb module name (policykb.retrieval.store → retrieval)."""
    part = module.split(".")[1]
    return next(i for i, names in enumerate(STAGES) if part in names)


def imports(path: Path) -> set[str]:
    """Return the policykb modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path.name}: relative import; write `from policykb.… import …`")
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("policykb."):
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module == "policykb":
            found.update(f"policykb.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("policykb."))
    return found


def test_every_module_belongs_to_a_stage() -> None:
    modules = [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE]
    for path in modules:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        stage_of(name)  # raises StopIteration for a module outside STAGES


def test_dependencies_point_one_way_down_the_pipeline() -> None:
    upward = []
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if name == "policykb.__init__":
            continue
        upward += [f"{name} imports {dep}" for dep in sorted(imports(path)) if stage_of(dep) > stage_of(name)]
    assert upward == []


def module_graph() -> dict[str, set[str]]:
    """Return each policykb module's policykb imports (packages' __init__ modules left out)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name != "__init__.py":
            graph[".".join(path.relative_to(ROOT).with_suffix("").parts)] = imports(path)
    return {name: {d for d in deps if d in graph} for name, deps in graph.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """Return one import cycle (a list of modules, first repeated last), or [] when there is none."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_no_module_imports_itself_through_others() -> None:
    """Within a stage too: formats ↔ parse once imported each other (lazily, inside functions)."""
    assert find_cycle(module_graph()) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_the_stage_test_sees_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from policykb.kb import KnowledgeBase\n", encoding="utf-8")
    assert stage_of(next(iter(imports(bad)))) > stage_of("policykb.retrieval.store")
    relative = tmp_path / "rel.py"
    relative.write_text("from .kb import KnowledgeBase\n", encoding="utf-8")
    try:
        imports(relative)
    except AssertionError as exc:
        assert "relative import" in str(exc)
    else:
        raise AssertionError("a relative import went unnoticed")

