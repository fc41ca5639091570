"""Dependencies point one way: tenant apps may import shared apps, never the reverse (the
public schema's code does not know tenant models; it sends signals instead)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_MODULES = sorted((ROOT / "shared_apps").rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (functions included), absolute names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_there_are_shared_modules_to_check():
    assert len(SHARED_MODULES) > 20


@pytest.mark.parametrize("path", SHARED_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_shared_app_module_imports_a_tenant_app(path):
    offending = {m for m in imported_modules(path) if m.split(".")[0] == "tenant_apps"}

    assert offending == set()


def test_the_check_catches_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tenant_apps.tasks.services import x\n")

    assert "tenant_apps.tasks.services" in imported_modules(module)
