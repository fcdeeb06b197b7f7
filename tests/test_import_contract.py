"""The import contract: shipped code never imports the test harness, router/'s layers import only the layers
before them, no module of router/ imports itself round a circle, and nothing but the adapters does I/O.

Read from the source with `ast` (no import runs), so a violation fails here even on a code path no test executes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("router", "consumers", "api", "workers", "cli")
HARNESS = {"reliability", "tests"}
# Libraries that reach the network, the file system of another service, or a socket: adapters' business only.
ENVIRONMENT = {"environ", "environb", "getenv", "getenvb"}
IO_LIBRARIES = {"boto3", "botocore", "httpx", "requests", "aiobotocore", "urllib.request", "socket"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported(tree: ast.AST, path: Path) -> set[str]:
    """Every module name the file imports, absolute, at any depth (function-local imports count too)."""
    names: set[str] = set()
    parts = path.relative_to(ROOT).with_suffix("").parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's own package
                base = parts[: len(parts) - node.level]
                module = ".".join((*base, node.module) if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _matches(name: str, banned: set[str]) -> bool:
    return any(name == b or name.startswith(b + ".") for b in banned)


def _reads_environment(tree: ast.AST) -> bool:
    """`os.environ`, `os.getenv`, or `from os import environ/getenv`."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENVIRONMENT
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in ENVIRONMENT for alias in node.names)
        ):
            return True
    return False


def harness_violations(packages: tuple[str, ...] = SHIPPED) -> list[str]:
    found = []
    for package in packages:
        for path in _modules(package):
            tree = ast.parse(path.read_text(), filename=str(path))
            bad = sorted(name for name in _imported(tree, path) if _matches(name, HARNESS))
            if bad:
                found.append(f"{path.relative_to(ROOT)}: {', '.join(bad)}")
    return found


def core_io_violations() -> list[str]:
    found = []
    for path in _modules("router"):
        if (ROOT / "router" / "adapters") in path.parents:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        bad = sorted(name for name in _imported(tree, path) if _matches(name, IO_LIBRARIES))
        if _reads_environment(tree):
            bad.append("os.environ/os.getenv")
        if bad:
            found.append(f"{path.relative_to(ROOT)}: {', '.join(bad)}")
    return found


# router/'s layers (router/__init__.py): each imports only itself and those before it; the adapters import any.
LAYERS = ("language", "core", "ports", "runtime", "adapters")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[0] == "router" and parts[1] in LAYERS else None


def _router_graph() -> dict[str, set[str]]:
    """router module -> the router modules it imports (a `from package import name` counts as the module)."""
    paths = _modules("router")
    known = {_module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        names = _imported(ast.parse(path.read_text(), filename=str(path)), path)
        graph[_module_name(path)] = {name for name in names if name in known} - {_module_name(path)}
    return graph


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imports in sorted(graph.items()):
        own = _layer(module)
        if own is None:
            if module != "router":
                found.append(f"{module}: outside every layer")
            continue
        for name in sorted(imports):
            other = _layer(name)
            if other is not None and other > own:
                found.append(f"{module} imports {name} ({LAYERS[own]} may not import {LAYERS[other]})")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each once, found by depth-first search (a package importing its own modules is not
    a circle: `router.ports` and its `router.ports.memory` both sit in one layer)."""
    found: list[list[str]] = []
    seen: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circle = path[path.index(module) :]
            if not any(set(circle) == set(c) for c in found):
                found.append(circle)
            return
        if module in seen:
            return
        for name in sorted(graph.get(module, ())):
            if not name.startswith(module + "."):
                visit(name, [*path, module])
        seen.add(module)

    for module in sorted(graph):
        visit(module, [])
    return found


def test_routers_layers_import_only_the_layers_before_them() -> None:
    """language <- core <- ports <- runtime; the adapters may import any layer, and no layer imports them."""
    graph = _router_graph()
    assert {"router.language.loader", "router.core.decide", "router.runtime.service"} <= graph.keys()
    assert layer_violations(graph) == []


def test_router_has_no_import_circles() -> None:
    assert cycles(_router_graph()) == []


def test_the_layer_and_circle_checks_catch_a_violation() -> None:
    bad = {
        "router.language.loader": {"router.core.approvals"},
        "router.core.approvals": {"router.adapters.tickets"},
        "router.core.model": {"router.core.usage"},
        "router.core.usage": {"router.core.model"},
        "router.adapters.tickets": {"router.runtime.service"},
        "router.stray": set(),
    }
    assert layer_violations(bad) == [
        "router.core.approvals imports router.adapters.tickets (core may not import adapters)",
        "router.language.loader imports router.core.approvals (language may not import core)",
        "router.stray: outside every layer",
    ]
    assert cycles(bad) == [["router.core.model", "router.core.usage"]]


def test_shipped_packages_never_import_the_test_harness() -> None:
    """No module under router/, consumers/, api/, workers/, cli/ imports reliability or tests."""
    assert all(_modules(package) for package in SHIPPED), "a shipped package moved; update SHIPPED"
    assert harness_violations() == []


def test_router_core_does_no_io_outside_adapters() -> None:
    """router/ outside router/adapters/ imports no AWS, HTTP or socket library and never reads the environment."""
    assert _modules("router")
    assert core_io_violations() == []


@pytest.mark.parametrize(
    ("source", "io", "harness"),
    [
        ("import boto3\n", True, False),
        ("from botocore.config import Config\n", True, False),
        ("def f():\n    import httpx\n", True, False),
        ("from urllib.request import urlopen\n", True, False),
        ("import os\nX = os.environ['A']\n", True, False),
        ("from os import getenv\n", True, False),
        ("from reliability import crash\n", False, True),
        ("import reliability.crash\n", False, True),
        ("from tests.conftest import x\n", False, True),
        ("import os\nimport urllib.parse\nX = os.path.join('a')\n", False, False),
    ],
)
def test_the_checks_catch_a_violation(source: str, io: bool, harness: bool) -> None:
    """Each rule fires on the imports it names and stays quiet on harmless ones (os.path, urllib.parse)."""
    path = ROOT / "router" / "example.py"
    tree = ast.parse(source)
    names = _imported(tree, path)
    assert (any(_matches(n, IO_LIBRARIES) for n in names) or _reads_environment(tree)) is io
    assert any(_matches(n, HARNESS) for n in names) is harness
