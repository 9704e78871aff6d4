"""The code a stage runs: the project modules its builder's module imports, transitively, and their hash.

The import graph is read from the sources (``ast``), not from a hand-kept list:
every ``import`` and ``from ... import`` of a project package (:data:`PROJECT_PACKAGES`),
anywhere in a module (function bodies included, since builders may import
lazily), except inside ``if TYPE_CHECKING:``, which never runs. Importing
``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` too, so those count.
Sources are read once per process: a file edited while a run is going on does
not change the keys of the code that run already uses.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import threading
from importlib import metadata
from pathlib import Path

PROJECT_PACKAGES = ("seqmask", "flows")
"""Top-level packages whose modules count as a stage's code by their sources; third-party code counts by the versions
of its distributions (:func:`closure_packages`)."""


def import_closure(module: str) -> tuple[str, ...]:
    """``module`` and every project module it reaches through imports, sorted."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending += _project_imports(name)
    return tuple(sorted(seen))


def code_hash(module: str) -> str:
    """sha256 over the name and source of every module in :func:`import_closure` of ``module``."""
    digest = hashlib.sha256()
    for name in import_closure(module):
        digest.update(name.encode() + b"\0" + _source_digest(name).encode() + b"\0")
    return digest.hexdigest()


def closure_packages(module: str) -> tuple[str, ...]:
    """The installed distributions (``torch``, ``fairseq2``, ``spacy``, ...) whose packages a module of
    :func:`import_closure` of ``module`` imports, sorted; the standard library and the project are not among them."""
    found: set[str] = set()
    for name in import_closure(module):
        for top in _imported_tops(name):
            found.update(_distributions().get(top, ()))
    return tuple(sorted(found - {"seqmask"}))


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, tuple[str, ...]]:
    """Top-level import name -> the installed distributions that provide it."""
    return {top: tuple(dists) for top, dists in metadata.packages_distributions().items()}


@functools.cache
def _imported_tops(module: str) -> frozenset[str]:
    """The top-level names of every absolute import in a project module (project, third-party and standard library)."""
    path, source = _source(module)
    tops: set[str] = set()
    for node in _runtime_nodes(_parse(source, path)):
        if isinstance(node, ast.Import):
            tops.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            tops.add(node.module.split(".")[0])
    return frozenset(tops)


@functools.cache
def _source(module: str) -> tuple[Path, bytes]:
    """Path and bytes of a project module's source, read once per process."""
    path = _module_path(module)
    if path is None:  # a stage defined outside the project (a test, a user's plugin): its own file counts
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            raise ValueError(f"module {module!r} has no Python source file to hash")
        path = Path(spec.origin)
    return path, path.read_bytes()


@functools.cache
def _source_digest(module: str) -> str:
    return hashlib.sha256(_source(module)[1]).hexdigest()


@functools.cache
def _project_imports(module: str) -> tuple[str, ...]:
    """Project modules ``module`` imports directly (packages whose ``__init__`` runs included)."""
    path, source = _source(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(_parse(source, path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found |= _with_parents(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            found |= _with_parents(base)
            found |= {f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")}
    found |= _with_parents(package) if package else set()
    return tuple(sorted(name for name in found if name.split(".")[0] in PROJECT_PACKAGES and _is_module(name)))


_PARSING = threading.Lock()
PARSE_ATTEMPTS = 5


def _parse(source: bytes, path: Path) -> ast.Module:
    """``ast.parse``, one thread of ours at a time, retried when CPython 3.11's AST builder trips over another thread
    building an AST at the same moment (``SystemError: AST constructor recursion depth mismatch``, python/cpython
    issue 106905: its depth counter is shared; a Prefect flow run parses in other threads too). Seen in 3 of 150 flow
    runs under load (bench/ops_load.py) before this retry."""
    for _ in range(PARSE_ATTEMPTS - 1):
        try:
            with _PARSING:
                return ast.parse(source, filename=str(path))
        except SystemError as err:
            if "recursion depth mismatch" not in str(err):
                raise
    with _PARSING:
        return ast.parse(source, filename=str(path))


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                pending += child.orelse
            else:
                pending.append(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a ``from ... import`` names."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _with_parents(name: str) -> set[str]:
    """``a.b.c`` -> ``{a, a.b, a.b.c}``: importing a module runs its packages' ``__init__``."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _is_module(name: str) -> bool:
    return _module_path(name) is not None


@functools.cache
def _module_path(name: str) -> Path | None:
    """The source file of project module ``name`` (``a/b.py`` or ``a/b/__init__.py``), found without importing it."""
    top, *rest = name.split(".")
    if top not in PROJECT_PACKAGES:
        return None
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return None
    base = Path(list(spec.submodule_search_locations)[0]).joinpath(*rest)
    for candidate in (base.with_name(base.name + ".py") if rest else None, base / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None
