"""The floor plan: each module imports only its own layer or a lower one, and the scenario
schema imports nothing else of maillab. Read from the source with ast, so imports under
TYPE_CHECKING and inside functions count too. Layers, lowest first:
runner/schema < lab < runner/methods < runner/rehearsal < runner/reports < runner/entry.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOPS = {"lab": "maillab.lab", "runner": "maillab.runner"}
LAYERS = ("maillab.runner.schema", "maillab.lab", "maillab.runner.methods", "maillab.runner.rehearsal",
          "maillab.runner.reports", "maillab.runner.entry")
HEAVY = ("docker", "testcontainers", "asyncssh")


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = [TOPS[relative.parts[0]], *relative.parts[1:]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for top in TOPS for path in sorted((ROOT / top).rglob("*.py"))}


def layer(name: str) -> int | None:
    return next((rank for rank, prefix in enumerate(LAYERS) if name == prefix or name.startswith(prefix + ".")), None)


def imported(name: str, is_package: bool, source: str) -> list[str]:
    """Every maillab module `source` (module `name`) imports, wherever the import stands."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join([*package[:len(package) - node.level + 1], node.module or ""] if node.level
                            else [node.module]).strip(".")
            # `from . import kept` names a module; `from .steps import Step` a module's name
            found += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base for alias in node.names]
    return [target for target in found if target == "maillab" or target.startswith("maillab.")]


def crossings(name: str, is_package: bool, source: str) -> list[str]:
    """The imports of `name` that go up a layer, or out of the schema, or to no layer at all."""
    own = layer(name)
    bad = []
    for target in imported(name, is_package, source):
        rank = layer(target)
        if rank is None or own is None or rank > own:
            bad.append(f"{name} imports {target}")
    return bad


# (module, its source, what the check must find): the check itself can fail
CASES = [
    ("maillab.runner.methods.context", "from ..rehearsal.state import Arrival", ["maillab.runner.rehearsal.state"]),
    ("maillab.runner.methods.context", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
     "    from ..rehearsal.inject import Strike", ["maillab.runner.rehearsal.inject"]),
    ("maillab.lab.lab", "def f():\n    from maillab.runner.rehearsal import phases", ["maillab.runner.rehearsal.phases"]),
    ("maillab.runner.schema.steps", "from ...lab.command import Command", ["maillab.lab.command"]),
    ("maillab.runner.schema.steps", "from .. import methods", ["maillab.runner.methods"]),
    ("maillab.runner.entry.kept", "from ..reports.json_report import write_snapshot", []),
    ("maillab.runner.rehearsal.phases", "from ...lab import signals\nfrom ..methods import execute", []),
    ("maillab.runner.schema.loader", "from .steps import METHODS\nimport json", []),
]


@pytest.mark.parametrize(("name", "source", "found"), CASES, ids=[f"{c[0]}: {c[1][-30:]}" for c in CASES])
def test_the_check_finds_an_upward_import(name, source, found):
    assert [line.split(" imports ")[1] for line in crossings(name, False, source)] == found


def test_no_module_imports_a_higher_layer():
    bad = [line for name, path in modules().items() if name not in ("maillab.runner",)
           for line in crossings(name, path.name == "__init__.py", path.read_text())]
    assert bad == []


def test_every_package_folder_is_installed():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert sorted(packages) == sorted(name for name, path in modules().items() if path.name == "__init__.py")


def loaded(module: str) -> set[str]:
    """The modules `python -X importtime -c "import MODULE"` loads."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True,
                         check=True)
    return {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize(("module", "heavy"), [("maillab.runner.rehearsal.compare", False),
                                               ("maillab.runner.schema.loader", False),
                                               ("maillab.lab.lab", True)])  # the control: it needs Docker
def test_the_pure_modules_load_no_docker(module, heavy):
    assert bool({name for name in loaded(module) if name.split(".")[0] in HEAVY}) == heavy
