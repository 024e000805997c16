"""The layers stay layers: each package of gupcheck imports only the layers below it (see
ARCHITECTURE.md), only the front end imports libclang, and API knowledge lives in kernel_api alone."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "analyzer"
RULES = REPO / "rules"

# What each layer may import at run time (imports under `if TYPE_CHECKING:` are for annotations only).
ALLOWED: dict[str, set[str]] = {
    "storage": set(),
    "model": {"model", "kernel_api"},
    "kernel_api": {"kernel_api", "model"},
    "frontend": {"frontend", "model", "kernel_api", "storage"},
    "analyses": {"analyses", "model", "kernel_api"},
    "rules": {"rules", "analyses", "model", "kernel_api"},
    "output": {"output", "model", "package"},
    "pipeline": {
        "pipeline",
        "frontend",
        "analyses",
        "model",
        "kernel_api",
        "output",
        "storage",
        "rules",
        "package",
    },
    "validate": {"validate"},
    "cli": {"cli", "pipeline", "frontend", "model", "output", "rules", "validate", "storage", "package"}
    | {"lsp"},  # `gupcheck lsp` imports the server when it runs
    # the Language Server; its worker analyses a project as the `hook` command does, with its helpers
    "lsp": {"lsp", "cli", "pipeline", "frontend", "model", "package"},
}


def modules() -> list[tuple[str, Path]]:
    """(layer, file) of every module of the package."""
    found = [("rules", path) for path in sorted(RULES.rglob("*.py"))]
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        layer = relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem
        if layer not in ("__init__", "__main__"):
            found.append((layer, path))
    return found


def runtime_imports(path: Path) -> list[str]:
    """The modules a file imports, except under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "gupcheck":
                names.extend(f"gupcheck.{alias.name}" for alias in node.names)
            else:
                names.append(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def layer_of(module: str) -> str | None:
    """The gupcheck layer a module name belongs to (None: not gupcheck)."""
    parts = module.split(".")
    if parts[0] != "gupcheck":
        return None
    if len(parts) == 1 or parts[1] in ("__version__", "INFORMATION_URI"):
        return "package"
    return parts[1]


@pytest.mark.parametrize("layer, path", modules(), ids=lambda value: str(value))
def test_imports_follow_the_layers(layer: str, path: Path) -> None:
    allowed = ALLOWED[layer]
    wrong = sorted(
        {
            name
            for name in runtime_imports(path)
            if (target := layer_of(name)) is not None and target not in allowed
        }
    )
    assert not wrong, f"{path.relative_to(REPO)} ({layer}) imports {wrong}"


def test_only_the_front_end_imports_libclang() -> None:
    importers = sorted(
        str(path.relative_to(REPO))
        for _layer, path in modules()
        if any(name == "clang" or name.startswith("clang.") for name in runtime_imports(path))
    )
    assert importers and all(name.startswith("analyzer/frontend/") for name in importers), importers


def test_api_tables_have_one_home() -> None:
    """No module outside kernel_api defines a table keyed by kernel or libc API names (a dict or set
    literal of identifiers such as `"kmalloc"` or `"copy_from_user"`)."""
    api_names = {
        "kmalloc", "vmalloc", "malloc", "kfree", "copy_from_user", "__copy_from_user", "get_user",
        "access_ok", "get_user_pages", "pin_user_pages_fast", "put_page", "mutex_lock", "spin_lock",
        "list_add", "remap_pfn_range", "READ_ONCE", "atomic_inc", "fork", "memcpy", "file_operations",
    }  # fmt: skip
    offenders = []
    for layer, path in modules():
        if layer == "kernel_api":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                keys = {key.value for key in node.keys if isinstance(key, ast.Constant)}
            elif isinstance(node, ast.Set):
                keys = {element.value for element in node.elts if isinstance(element, ast.Constant)}
            else:
                continue
            if keys & api_names:
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, offenders
