"""The package's structure (docs/architecture.md): no import cycle among bidrn_hw's modules, counting imports
at module level and inside functions alike; no module over 600 lines; and no function-local import without a
``# lazy: <why>`` comment (function-local imports are kept for heavy optional dependencies and the CLI's startup)."""
import ast
import re
from pathlib import Path

import bidrn_hw

ROOT = Path(bidrn_hw.__file__).resolve().parent
MAX_LINES = 600
LAZY = re.compile(r"#\s*lazy:\s*\S")


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _resolve(name: str, known) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """{module: the package modules it imports} (a package's __init__ importing its own submodules is not
    counted: that is how a package lists its contents, not a dependency of the design)."""
    mods = _modules(root)
    graph = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        base = name.split(".") if is_pkg else name.split(".")[:-1]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mod = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else node.module or ""
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                hit = _resolve(target, mods)
                if hit and hit != name and not (is_pkg and hit.startswith(name + ".")):
                    deps.add(hit)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle_through_a_function_local_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")  # a package listing its modules: not a cycle
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import g\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    assert cycles(import_graph(pkg)) == [["pkg.a", "pkg.sub.b"]]


def test_no_module_over_600_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules(ROOT).items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def _statement_lists(node: ast.AST):
    """Every list of statements inside ``node`` (bodies, else branches, handlers, finally blocks, match cases)."""
    for child in ast.walk(node):
        for name in ("body", "orelse", "handlers", "finalbody", "cases"):
            stmts = getattr(child, name, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.AST):
                yield stmts


def unmarked_local_imports(root: Path = ROOT) -> list[str]:
    """``module:line`` of every import inside a function that says nowhere why it is there: a ``# lazy: <why>``
    comment on one of its lines, or on the line above it; a comment above an import also covers the imports
    that directly follow it in the same block (one comment for the group)."""
    out = []
    for name, path in sorted(_modules(root).items()):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        seen = set()
        for fn in ast.walk(ast.parse(text)):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for stmts in _statement_lists(fn):
                covered = False
                for st in stmts:
                    if not isinstance(st, (ast.Import, ast.ImportFrom)):
                        covered = False
                        continue
                    if id(st) in seen:
                        continue
                    seen.add(id(st))
                    own = any(LAZY.search(lines[i - 1]) for i in range(st.lineno, st.end_lineno + 1))
                    above = st.lineno > 1 and lines[st.lineno - 2].lstrip().startswith("#") \
                        and LAZY.search(lines[st.lineno - 2])
                    covered = covered or bool(above)
                    if not (own or covered):
                        out.append(f"{name}:{st.lineno}")
    return out


def test_every_function_local_import_says_why():
    assert unmarked_local_imports() == []


def test_the_lazy_import_check_finds_an_unmarked_import(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import json\n")  # module level: nothing to say
    (pkg / "a.py").write_text(
        "def marked():\n"
        "    import torch  # lazy: heavy, only here\n"
        "\n"
        "def grouped():\n"
        "    # lazy: FINN, only when the passes run\n"
        "    import finn\n"
        "    from finn import x\n"
        "\n"
        "    from qonnx import y\n"
        "    return x, y\n"
        "\n"
        "def unmarked():\n"
        "    import json\n"
        "\n"
        "def after_code():\n"
        "    # lazy: torch\n"
        "    import torch\n"
        "    t = torch.zeros(1)\n"
        "    import numpy\n"
        "\n"
        "def no_reason():\n"
        "    import os  # lazy:\n"
        "\n"
        "class C:\n"
        "    def method(self):\n"
        "        if self:\n"
        "            from . import b\n")
    assert unmarked_local_imports(pkg) == ["pkg.a:13", "pkg.a:19", "pkg.a:22", "pkg.a:27"]
