"""Tests of the source layout: who may import what, and the YAML paths.

Every module's imports are read with ``ast`` (top-level and inside
functions, plus ``importlib.import_module("name")`` calls with a literal
name). A recipe script may import the package and third-party libraries,
but no other recipe script; a package module may import no recipe script.
Shared code belongs in the package. Inside the package, ``inference/``
(what a user of a model folder runs) imports nothing from ``training/``, and
the network (``nnet/``, ``lobes/models/``) does no I/O. Every
``!new:``/``!name:``/``!apply:`` path of the shipped YAML files resolves to
an object at its new (not deprecated) path.

Authors
 * MMSpeech plugin contributors 2026
"""

import ast
import pydoc
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "speechbrain_mmspeech"
RECIPES = ROOT / "recipes"
# Modules whose use is I/O: files, paths, processes, audio files, the hub.
IO_MODULES = (
    "os", "io", "pathlib", "shutil", "tempfile", "csv", "json", "subprocess",
    "soundfile", "torchaudio", "huggingface_hub", "speechbrain.dataio",
    "speechbrain.utils.fetching", "speechbrain_mmspeech.dataio",
    "speechbrain_mmspeech.export",
)  # fmt: skip
YAML_PATH = re.compile(r"!(?:new|name|apply):(speechbrain_mmspeech[\w.]*)")
# The shipped YAML files that name package objects (not the presets).
SHIPPED_YAML = [
    path
    for path in sorted((ROOT / "hparams").glob("*.yaml"))
    + sorted(RECIPES.rglob("hparams/*.yaml"))
    if YAML_PATH.search(path.read_text(encoding="utf-8"))
]


def imported_names(path):
    """The full names of the modules a Python file imports.

    Arguments
    ---------
    path : pathlib.Path
        A Python source file.

    Returns
    -------
    set of str
        E.g. ``{"os.path", "train"}`` for ``import os.path`` and
        ``from train import ASR`` anywhere in the file; relative imports
        are left out.
    """
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def imported_modules(path):
    """The top-level names of the modules a Python file imports.

    Arguments
    ---------
    path : pathlib.Path
        A Python source file.

    Returns
    -------
    set of str
        E.g. ``{"os", "train"}`` for ``import os.path`` and
        ``from train import ASR`` anywhere in the file. Relative imports
        (``from . import x``) are left out: they stay inside a package.

    Example
    -------
    >>> path = getfixture("tmp_path") / "a.py"
    >>> _ = path.write_text(
    ...     "import os.path\\n"
    ...     "def f():\\n"
    ...     "    from train import ASR\\n"
    ...     "    importlib.import_module('pretrain')\\n"
    ... )
    >>> sorted(imported_modules(path))
    ['os', 'pretrain', 'train']
    """
    return {name.split(".")[0] for name in imported_names(path)}


def recipe_scripts():
    """Module name -> path of every recipe script (``recipes/**/*.py``)."""
    return {path.stem: path for path in sorted(RECIPES.rglob("*.py"))}


def violations(paths, forbidden):
    """``"file imports module"`` lines for imports of ``forbidden`` names.

    Arguments
    ---------
    paths : iterable of pathlib.Path
        The files to read.
    forbidden : dict
        Module name -> the path of the file it names.

    Returns
    -------
    list of str
        One line per forbidden import (a file importing itself is left
        out), paths relative to the repository.
    """
    found = []
    for path in paths:
        for name in sorted(imported_modules(path) & forbidden.keys()):
            if forbidden[name] != path:
                found.append(
                    f"{path.relative_to(ROOT)} imports "
                    f"{forbidden[name].relative_to(ROOT)}"
                )
    return found


def test_recipe_scripts_do_not_import_each_other():
    """Recipe scripts share code through the package only."""
    scripts = recipe_scripts()
    assert violations(scripts.values(), scripts) == []


def test_package_does_not_import_recipe_scripts():
    """No package module imports a recipe script (or ``recipes``)."""
    forbidden = {**recipe_scripts(), "recipes": RECIPES}
    assert violations(sorted(PACKAGE.rglob("*.py")), forbidden) == []


def _under(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_inference_imports_nothing_from_training():
    """A model folder's user needs no training code."""
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((PACKAGE / "inference").rglob("*.py"))
        for name in sorted(imported_names(path))
        if _under(name, ["speechbrain_mmspeech.training"])
    ]
    assert found == []


def test_the_network_does_no_io():
    """``nnet/`` and ``lobes/models/`` compute; reading and writing is
    elsewhere (no I/O module, no ``open``, ``torch.load`` or ``torch.save``)."""
    found = []
    paths = sorted((PACKAGE / "nnet").rglob("*.py")) + sorted(
        (PACKAGE / "lobes" / "models").rglob("*.py")
    )
    for path in paths:
        found += [
            f"{path.relative_to(ROOT)} imports {name}"
            for name in sorted(imported_names(path))
            if _under(name, IO_MODULES)
        ]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = getattr(node, "func", None)
            called = getattr(func, "id", None) or getattr(func, "attr", None)
            if isinstance(node, ast.Call) and called in {
                "open",
                "load",
                "save",
            }:
                found.append(f"{path.relative_to(ROOT)} calls {called}")
    assert found == []


@pytest.mark.parametrize(
    "yaml_file", SHIPPED_YAML, ids=lambda p: str(p.relative_to(ROOT))
)
def test_shipped_yaml_paths_resolve(yaml_file):
    """Every package path of a shipped YAML names an object at its new home."""
    paths = YAML_PATH.findall(yaml_file.read_text(encoding="utf-8"))
    assert paths
    wrong = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for path in paths:
            found = pydoc.locate(path)
            owner = getattr(found, "__self__", found)  # a bound classmethod
            module = getattr(owner, "__module__", None)
            if found is None:
                wrong.append(f"{path}: not found")
            elif module and module.startswith("speechbrain_mmspeech"):
                if not path.startswith(module + "."):
                    wrong.append(f"{path}: defined in {module}")
    assert wrong == []
