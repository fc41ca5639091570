"""docs/SECURITY.md maps each OWASP API Security Top 10 (2023) risk to tests: every test it
names exists, every risk names some; and the application opens no outbound connection of its
own (API7, server side request forgery)."""

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SECURITY_DOC = ROOT / "docs" / "SECURITY.md"
RISKS = [f"API{number}:2023" for number in range(1, 11)]
# A test file, optionally with a test; or a test of the file named last.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")
APPLICATION_PACKAGES = ("saas", "shared_apps", "tenant_apps")
HTTP_CLIENTS = {
    "requests",
    "httpx",
    "urllib.request",
    "http.client",
    "urllib3",
    "aiohttp",
    "socket",
}


def _references(text: str) -> list[tuple[str, str | None]]:
    """(file, test or None) for each reference, `::name` alone meaning the file named last."""
    found, current = [], None
    for match in REFERENCE.finditer(text):
        path, name = match.groups()
        if path is None and name is None:
            continue
        current = path or current
        assert current is not None, f"::{name} before any file"
        found.append((current, name))
    return found


def _defines(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text())
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        for node in ast.walk(tree)
    )


def test_every_test_the_security_doc_names_exists():
    missing = []
    for path, name in _references(SECURITY_DOC.read_text()):
        file = ROOT / path
        if not file.is_file():
            missing.append(path)
        elif name is not None and not _defines(file, name):
            missing.append(f"{path}::{name}")
    assert not missing, missing


def test_every_owasp_risk_has_a_section_naming_tests():
    text = SECURITY_DOC.read_text()
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    for risk in RISKS:
        (section,) = [s for s in sections if s.startswith(risk)]
        assert _references(section), f"{risk} names no test"


def test_no_application_code_imports_an_http_client():
    offenders = []
    for package in APPLICATION_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
                else:
                    continue
                if names & HTTP_CLIENTS:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders
