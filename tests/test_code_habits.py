"""The habits `make test` enforces beyond ruff: short functions, one home per domain word,
and a docs/architecture.md that names only modules that exist."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from layers.model import FACILITY_TYPES, LEVEL_CODES, LEVELS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dashboard", "layers", "geodata", "callbacks", "bench", "tests")
MAX_FUNCTION_LINES = 80
MODEL = ROOT / "layers" / "model.py"


def _modules(packages: tuple[str, ...] = PACKAGES) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def _constants(tree: ast.AST) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert not long, "fonctions de plus de 80 lignes :\n" + "\n".join(long)


def _labels() -> set[str]:
    words = {w for lv in LEVELS for w in (lv.plural, lv.singular, lv.short)}
    words |= {ft.label for ft in FACILITY_TYPES}
    # A label equal to its level code ("commune", "epci") is a code, and codes and slugs are
    # identifiers (checked as lists below); « Caf » also names the organisation.
    return words - set(LEVEL_CODES) - {"France", "EPCI", "QPV", "IRIS", "Caf"}


def test_level_and_facility_labels_are_declared_only_in_the_model() -> None:
    labels = _labels()
    found = []
    for path in _modules(("dashboard", "layers", "geodata", "callbacks")):
        if path == MODEL:
            continue
        for node in _constants(ast.parse(path.read_text(encoding="utf-8"))):
            if node.value in labels:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} « {node.value} »")
    assert not found, "libellés du modèle redéclarés :\n" + "\n".join(found)


def test_no_list_of_level_codes_outside_the_model() -> None:
    """A tuple or list naming three level codes or more is a second declaration of the levels
    (or of a subset the model can say: MAP_LEVELS, FILTER_LEVELS, REFERENCE_LEVELS...)."""
    codes = set(LEVEL_CODES)
    slugs = {ft.slug for ft in FACILITY_TYPES}
    found = []
    for path in _modules(("dashboard", "layers", "geodata", "callbacks")):
        if path == MODEL:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Tuple | ast.List | ast.Set):
                continue
            values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if len(codes.intersection(values)) >= 3 or len(slugs.intersection(values)) >= 2:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {values}")
    assert not found, "listes de niveaux ou de types hors du modèle :\n" + "\n".join(found)


def _architecture_modules() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    return sorted(
        set(re.findall(r"`((?:dashboard|layers|geodata|callbacks|assets|bench)/[\w/.]+)`", text))
    )


def test_architecture_doc_names_only_what_exists() -> None:
    named = _architecture_modules()
    assert len(named) >= 20, named
    missing = [name for name in named if not (ROOT / name).exists()]
    assert not missing, f"docs/architecture.md nomme des fichiers absents : {missing}"


@pytest.mark.parametrize("package", ["callbacks"])
def test_callbacks_never_import_the_dashboard(package: str) -> None:
    bad = []
    for path in _modules((package,)):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "dashboard"]
    assert not bad, bad
