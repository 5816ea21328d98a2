"""Imports run downward only (docs/ARCHITECTURE.md): plumbing < tasks, backends < options <
the algorithms (search, training, evaluation, w2s, selfimprove, reporting) < commands < cli.

Every module's imports are read with `ast` (imports inside functions and under TYPE_CHECKING
count: a lazy or type-only import is still a dependency), so moving orchestration back into an
algorithm package, or a backend reaching up into training, fails here with the line to fix.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import elicit

SRC = Path(elicit.__file__).parent

#: Lowest first; a module may import its own tier and the tiers below it. A package prefix
#: names every module under it; "elicit" alone is the package's own __init__.
TIERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("plumbing", ("elicit.errors", "elicit.config", "elicit.model_parts", "elicit.models",
                  "elicit.runs", "elicit.labels")),
    ("tasks and backends", ("elicit.tasks", "elicit.backends")),
    ("shared options", ("elicit.options", "elicit")),
    ("algorithms", ("elicit.search", "elicit.training", "elicit.evaluation", "elicit.w2s",
                    "elicit.selfimprove", "elicit.reporting")),
    ("commands", ("elicit.commands",)),
    ("cli", ("elicit.cli", "elicit.__main__")),
)  # fmt: skip


def tier(module: str) -> int:
    """The tier of `module` (its longest listed prefix), or -1 when no tier names it."""
    best, found = -1, ""
    for rank, (_, prefixes) in enumerate(TIERS):
        for prefix in prefixes:
            exact = prefix == "elicit" and module == "elicit"
            under = prefix != "elicit" and (module == prefix or module.startswith(prefix + "."))
            if (exact or under) and len(prefix) > len(found):
                best, found = rank, prefix
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) of every elicit module `source` imports, relative imports resolved;
    `from X import name` counts as X.name when that is a module, else X (callers check
    both by prefix, so X is enough)."""
    found: list[tuple[int, str]] = []
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "elicit"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] == "elicit":
                found.append((node.lineno, name))
    return found


def upward_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """What `module` imports from a higher tier (or from a module no tier names)."""
    own = tier(module)
    problems = []
    for line, target in imported_modules(source, module, is_package):
        rank = tier(target)
        if rank < 0:
            problems.append(f"{module}:{line} imports {target}, which no tier in TIERS names")
        elif rank > own:
            problems.append(
                f"{module}:{line} imports {target} ({TIERS[rank][0]}) from {TIERS[own][0]}"
            )
    return problems


def test_every_module_has_a_tier() -> None:
    unplaced = [module_name(p) for p in sorted(SRC.rglob("*.py")) if tier(module_name(p)) < 0]
    assert not unplaced, f"add these modules to a tier in TIERS: {unplaced}"


def test_no_import_runs_upward() -> None:
    problems: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        problems += upward_imports(
            path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py"
        )
    assert not problems, "imports that run upward:\n" + "\n".join(problems)


def private_imports(source: str) -> list[str]:
    """`from elicit.x import _name`: a private name read from another module."""
    return [
        f"line {node.lineno}: from {node.module} import {alias.name}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "elicit"
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_private_name_is_imported_across_modules() -> None:
    problems = [
        f"{module_name(path)} {problem}"
        for path in sorted(SRC.rglob("*.py"))
        for problem in private_imports(path.read_text(encoding="utf-8"))
    ]
    assert not problems, "make these public where they are needed:\n" + "\n".join(problems)
    assert private_imports("from elicit.backends.hf import _load\n")  # the check can fail
    assert not private_imports("from elicit import __version__\n")


@pytest.mark.parametrize(
    ("module", "source", "flagged"),
    [
        ("elicit.search.icm", "from elicit.commands.label import LabelConfig\n", True),
        ("elicit.backends.hf", "def f():\n    from elicit.training import model\n", True),
        ("elicit.training.loop", "if TYPE_CHECKING:\n    import elicit.cli.main\n", True),
        ("elicit.search.icm", "from ..commands import label\n", True),
        ("elicit.runs", "from elicit.reporting.discover import detect_kind\n", True),
        ("elicit.search.icm", "from elicit.nowhere import x\n", True),
        ("elicit.commands.label", "from elicit.search.icm import run_search\n", False),
        ("elicit.search.icm", "from . import energy\nfrom elicit.tasks.base import Example\n", False),
        ("elicit.cli.main", "from elicit import __version__\n", False),
    ],
)  # fmt: skip
def test_the_check_flags_what_runs_upward(module: str, source: str, flagged: bool) -> None:
    assert bool(upward_imports(source, module)) is flagged
