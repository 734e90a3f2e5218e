"""The package's shape: imports run only down the layers, with no circle, and no function over 80 lines.

Read from the source with ``ast`` (no imports run), so the test sees function-local imports too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gmcnn"

# Bottom to top. A module may import from its own layer only inside its own package (so training and
# evaluation, both in layer 4, never import each other), and from any layer below.
LAYERS: list[tuple[str, ...]] = [
    ("gmcnn.errors", "gmcnn.files", "gmcnn.version"),
    # Shared maths and data: nothing here knows about weights files, training or evaluation.
    ("gmcnn.models", "gmcnn.losses", "gmcnn.data", "gmcnn.io", "gmcnn.evaluation.metrics"),
    ("gmcnn.weights",),
    ("gmcnn.inpainting",),
    ("gmcnn.training", "gmcnn.evaluation"),
    ("gmcnn.web", "gmcnn.bench"),  # the HTTP API; the speed benchmark (it times training steps too)
    ("gmcnn.cli",),
    ("gmcnn", "gmcnn.__main__"),  # the package root (the public API re-exports) and `python -m gmcnn`
]
MAX_FUNCTION_LINES = 80
# Functions known to be too long (none now); the test fails when one is fixed, so no entry outlives its problem.
KNOWN_LONG: set[str] = set()


def _module_name(path: Path) -> str:
    parts = ["gmcnn", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(SRC.rglob("*.py"))}


def _imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """gmcnn modules ``name`` imports anywhere in its body (``from pkg import mod`` resolves to the module)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "gmcnn")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "gmcnn":
            assert node.level == 0, f"{name}: relative import"
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in known else node.module)
    out.discard(name)
    return out


def _layer(module: str) -> tuple[int, str]:
    """(layer index, owning package) of a module: the longest matching prefix wins."""
    best: tuple[int, str] | None = None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[1])):
                best = (i, prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, tree, set(modules)) for name, tree in modules.items()}


def test_every_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    for module in graph:
        _layer(module)


def test_imports_only_run_down_the_layers(graph: dict[str, set[str]]) -> None:
    upward = []
    for module, imported in graph.items():
        layer, package = _layer(module)
        for target in sorted(imported):
            t_layer, t_package = _layer(target)
            if t_layer > layer or (t_layer == layer and t_package != package):
                upward.append(f"{module} (layer {layer}) imports {target} (layer {t_layer})")
    assert not upward, "imports that run up or across a layer:\n" + "\n".join(upward)


def test_models_losses_and_io_know_nothing_of_weights_training_or_evaluation(graph: dict[str, set[str]]) -> None:
    for module, imported in graph.items():
        if module.startswith(("gmcnn.models", "gmcnn.losses", "gmcnn.io")):
            bad = [t for t in imported if t.startswith(("gmcnn.weights", "gmcnn.training", "gmcnn.evaluation"))]
            assert not bad, f"{module} imports {bad}"


def test_import_graph_has_no_circle(graph: dict[str, set[str]]) -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_checker_sees_an_upward_import() -> None:
    """The checker itself can fail: a model importing the weights format is caught."""
    tree = ast.parse("from gmcnn.weights.format import load_generator\n")
    imported = _imports("gmcnn.models.gmcnn", tree, {"gmcnn.weights.format"})
    assert imported == {"gmcnn.weights.format"} and _layer("gmcnn.weights.format")[0] > _layer("gmcnn.models.gmcnn")[0]


def test_no_function_is_over_80_lines() -> None:
    long = {}
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > MAX_FUNCTION_LINES:
                    long[f"{name}.{node.name}"] = lines
    assert set(long) - KNOWN_LONG == set(), f"functions over {MAX_FUNCTION_LINES} lines: {long}"
    assert set(long) >= KNOWN_LONG, f"{KNOWN_LONG - set(long)} is short now: remove it from KNOWN_LONG"
