"""Every domain notarises and reads the notary through its one public module, `services.notary.api`: no domain
imports the notary's service, repository, codes, anchoring or committer."""

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"
NOTARY = "segell.services.notary"
NOTARY_API = f"{NOTARY}.api"
# The notary itself, and the CLI, which talks to the API over HTTP and starts the worker.
EXCLUDED = {"notary", "cli"}


def domain_packages() -> list[Path]:
    return sorted(path for path in SERVICES.iterdir() if (path / "__init__.py").exists() and path.name not in EXCLUDED)


def notary_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of the notary's modules in `path`, `from ... import` names resolved."""
    package = "segell.services." + ".".join(path.relative_to(SERVICES).parent.parts)
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module]) if module else ".".join(base)
            # `from segell.services.notary import service` imports the module `segell.services.notary.service`.
            names = [f"{module}.{alias.name}" for alias in node.names] if module == NOTARY else [module]
            found += [(node.lineno, name) for name in names]
    return [(line, module) for line, module in found if module == NOTARY or module.startswith(NOTARY + ".")]


def test_domains_import_the_notary_only_through_its_api() -> None:
    wrong = [
        f"{path.relative_to(SERVICES.parent)}:{line} imports {module}"
        for package in domain_packages()
        for path in sorted(package.rglob("*.py"))
        for line, module in notary_imports(path)
        if module != NOTARY_API
    ]
    assert wrong == []


def test_domain_boundary_check_sees_identity_and_web_notarising() -> None:
    # The check above would pass vacuously if it looked at nothing: identity and web do notarise, through the api.
    users = {
        path.parent.name for package in domain_packages() for path in package.rglob("*.py") if notary_imports(path)
    }
    assert {"identity", "web"} <= users
