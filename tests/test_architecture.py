"""The rooms' rules, read from the AST of every source module.

Arrows point one way, top to bottom: cli and web (side by side) → flows → tasks → accel and
mail (side by side: neither imports the other) → calendars → models. `calendars/` and
`models/` never touch the clock, the environment, files, the network or a database session:
that is what keeps the planning exact and testable with `now` as an input.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Higher may import lower; equal ranks are siblings that must not import each other.
RANK = {
    "models": 0,
    "calendars": 1,
    "accel": 2,
    "mail": 2,
    "tasks": 3,
    "flows": 4,
    "web": 5,
    "cli": 5,
}
PURE_ROOMS = ("models", "calendars")
# Standard-library and third-party modules that do I/O: none of them in a pure room.
IMPURE_MODULES = {
    "os",
    "sys",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "glob",
    "socket",
    "ssl",
    "http",
    "urllib",
    "httpx",
    "requests",
    "smtplib",
    "aiosmtplib",
    "imaplib",
    "email",
    "subprocess",
    "time",
    "random",
    "secrets",
    "importlib",
    "jinja2",
    "prefect",
    "sqlmodel.orm",
    "uvicorn",
    "fastapi",
    "starlette",
}
# Calls that read the clock, the environment or files, or open connections (the `time`
# module's own clocks are excluded with the module).
IMPURE_CALLS = {
    "now",
    "utcnow",
    "today",
    "open",
    "getenv",
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "exists",
    "iterdir",
    "glob",
    "rglob",
    "FileSystemLoader",
    "PackageLoader",
    "create_engine",
    "connect",
    "begin",
    "execute",
    "Session",
}
IMPURE_NAMES = {"environ"}


@dataclass(frozen=True)
class Module:
    room: str
    path: Path
    tree: ast.Module

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"


def source_modules() -> Iterator[Module]:
    for room in RANK:
        for path in sorted((ROOT / room).rglob("*.py")):
            yield Module(room, path, ast.parse(path.read_text(encoding="utf-8"), str(path)))


def imported_modules(tree: ast.Module) -> Iterator[tuple[ast.AST, str]]:
    """Every absolute import, at the top of the file or inside a function."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node, node.module


def arrows_against_the_order(module: Module) -> list[str]:
    wrong = []
    for node, name in imported_modules(module.tree):
        top = name.split(".")[0]
        if top in RANK and top != module.room and RANK[top] >= RANK[module.room]:
            wrong.append(f"{module.where(node)}: {module.room}/ imports {name}")
    return sorted(set(wrong))


def impure_uses(module: Module) -> list[str]:
    found = []
    for node, name in imported_modules(module.tree):
        if any(name == m or name.startswith(m + ".") for m in IMPURE_MODULES):
            found.append(f"{module.where(node)}: imports {name}")
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else None
            )
            if called in IMPURE_CALLS:
                found.append(f"{module.where(node)}: calls {called}()")
        elif isinstance(node, ast.Attribute | ast.Name):
            named = node.attr if isinstance(node, ast.Attribute) else node.id
            if named in IMPURE_NAMES:
                found.append(f"{module.where(node)}: uses {named}")
    return sorted(set(found))


MODULES = list(source_modules())


def test_every_room_has_modules() -> None:
    rooms = {m.room for m in MODULES}
    assert rooms == set(RANK), f"rooms without modules: {set(RANK) - rooms}"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: str(m.path.relative_to(ROOT)))
def test_imports_point_down_the_rooms(module: Module) -> None:
    assert arrows_against_the_order(module) == []


@pytest.mark.parametrize(
    "module",
    [m for m in MODULES if m.room in PURE_ROOMS],
    ids=lambda m: str(m.path.relative_to(ROOT)),
)
def test_pure_rooms_touch_no_clock_environment_file_or_network(module: Module) -> None:
    assert impure_uses(module) == []


@pytest.mark.parametrize(
    ("room", "source", "expected"),
    [
        (
            "calendars",
            "from mail.mime import x\n",
            ["calendars/probe.py:1: calendars/ imports mail.mime"],
        ),
        ("accel", "import mail.queue\n", ["accel/probe.py:1: accel/ imports mail.queue"]),
        (
            "mail",
            "def f():\n    from accel import settings\n",
            ["mail/probe.py:2: mail/ imports accel"],
        ),
        ("cli", "from flows import sync_cohort\n", []),
        (
            "models",
            "from calendars import timeline\n",
            ["models/probe.py:1: models/ imports calendars"],
        ),
    ],
)
def test_the_arrow_check_itself(room: str, source: str, expected: list[str]) -> None:
    module = Module(room, ROOT / room / "probe.py", ast.parse(source))
    assert arrows_against_the_order(module) == expected


@pytest.mark.parametrize(
    "source",
    [
        "import datetime as dt\nx = dt.datetime.now(dt.UTC)\n",
        "import os\n",
        "from pathlib import Path\n",
        "def f(p):\n    return p.read_text()\n",
        "def f():\n    return open('x')\n",
        "from jinja2 import FileSystemLoader\n",
        "import time\nt = time.time()\n",
        "def f(engine):\n    with engine.connect() as c:\n        return c\n",
    ],
)
def test_the_purity_check_itself(source: str) -> None:
    module = Module("calendars", ROOT / "calendars" / "probe.py", ast.parse(source))
    assert impure_uses(module) != []


# Small modules with one job, functions that fit a screen: past these, a module or a function
# is usually two jobs (`calendars/timeline.py` at 598 lines and `ops_router` at 253 were).
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


@pytest.mark.parametrize("module", MODULES, ids=lambda m: str(m.path.relative_to(ROOT)))
def test_modules_and_functions_stay_small(module: Module) -> None:
    lines = len(module.path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module.path.name}: {lines} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(module.tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
