"""Tests of the source layout: recipes use the package, never each other.

Every module's imports are read with ``ast`` (top-level and inside
functions, plus ``importlib.import_module("name")`` calls with a literal
name). A recipe script may import the package and third-party libraries,
but no other recipe script; a package module may import no recipe script.
Shared code belongs in the package.

Authors
 * MMSpeech plugin contributors 2026
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "speechbrain_mmspeech"
RECIPES = ROOT / "recipes"


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
    return {name.split(".")[0] for name in names}


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
