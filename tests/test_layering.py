"""Everything imports Segell as one package, `segell`: the folders chain/, services/ and sdk/ are its parts, and no
generic top-level module (`chain`, `services`, `sdk`) is imported or installed."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("chain", "services", "sdk")
SOURCES = [ROOT / folder for folder in (*PARTS, "tests", "bench")]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def python_files() -> list[Path]:
    return [path for folder in SOURCES for path in folder.rglob("*.py")]


def test_no_module_imports_a_part_as_a_top_level_package() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files()
        for line, module in imported_modules(path)
        if module.split(".")[0] in PARTS
    ]
    assert wrong == []


def test_chain_never_imports_services() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in (ROOT / "chain").rglob("*.py")
        for line, module in imported_modules(path)
        if module.startswith("segell.services")
    ]
    assert wrong == []


def test_sdk_imports_neither_chain_nor_services() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in (ROOT / "sdk").rglob("*.py")
        for line, module in imported_modules(path)
        if module.startswith(("segell.services", "segell.chain"))
    ]
    assert wrong == []


def test_segell_package_is_made_of_the_three_folders() -> None:
    package = ROOT / "segell"
    assert sorted(entry.name for entry in package.iterdir()) == sorted(PARTS)
    for part in PARTS:
        assert (package / part).resolve() == (ROOT / part).resolve()


KERNEL = ("deps", "errors", "db", "settings", "runtime", "models", "limits", "file_names")


def services_domains() -> list[str]:
    return sorted(path.parent.name for path in (ROOT / "services").glob("*/__init__.py"))


def imported_names(path: Path, package: str) -> list[tuple[int, str]]:
    """Every module or name an import statement of `path` reaches, `from a import b` as `a.b`, relative ones resolved
    against `package`."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def test_services_kernel_imports_no_domain() -> None:
    domains = tuple(f"segell.services.{domain}." for domain in services_domains())
    wrong = [
        f"services/{name}.py:{line} imports {module}"
        for name in KERNEL
        for line, module in imported_names(ROOT / "services" / f"{name}.py", "segell.services")
        if f"{module}.".startswith(domains)
    ]
    assert wrong == []
