"""No domain imports another domain's internals: what a domain offers the others is its `api` module (the notary's
`services.notary.api`, the administrations' `services.administrations.api`, ...). The kernel (`services/*.py`)
imports no domain; `services/main.py` only the domains' `domain` modules."""

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"
PREFIX = "segell.services."
# The CLI talks to the API over HTTP; it starts the anchoring worker of `segell worker` itself.
NOT_A_DOMAIN = {"cli"}


def domain_names(root: Path = SERVICES) -> set[str]:
    return {path.name for path in root.iterdir() if (path / "__init__.py").exists()} - NOT_A_DOMAIN


def imports_of(path: Path, root: Path = SERVICES) -> list[tuple[int, str]]:
    """(line, module) of every import in `path`: relative imports resolved, and `from package import name` taken as
    the module `package.name` when `package` is a domain (``from segell.services.notary import service``)."""
    package = PREFIX + ".".join(path.relative_to(root).parent.parts)
    domains = domain_names(root)
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.rstrip(".").split(".")[: len(package.rstrip(".").split(".")) - node.level + 1]
                module = ".".join([*base, module]) if module else ".".join(base)
            is_domain = module.removeprefix(PREFIX) in domains
            found += [(node.lineno, f"{module}.{alias.name}" if is_domain else module) for alias in node.names]
    return found


def domain_of(module: str, root: Path = SERVICES) -> tuple[str, str] | None:
    """(domain, module within it) of a module of a domain, else None."""
    if not module.startswith(PREFIX):
        return None
    name, _, rest = module.removeprefix(PREFIX).partition(".")
    return (name, rest) if name in domain_names(root) else None


def crossings(root: Path = SERVICES) -> list[str]:
    wrong = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        home = parts[0] if len(parts) > 1 else None
        if home in NOT_A_DOMAIN:
            continue
        for line, module in imports_of(path, root):
            target = domain_of(module, root)
            if target is None or target[0] == home:
                continue
            allowed = "domain" if path.name == "main.py" and home is None else "api"
            if home is None and path.name != "main.py" or target[1] != allowed:
                wrong.append(f"{path.relative_to(root).as_posix()}:{line} imports {module}")
    return wrong


def test_domains_use_each_other_only_through_their_api_modules() -> None:
    assert crossings() == []


def test_the_boundary_check_sees_the_domains_that_use_each_other() -> None:
    # The check above would pass vacuously if it looked at nothing.
    users: dict[str, set[str]] = {}
    for path in SERVICES.rglob("*.py"):
        parts = path.relative_to(SERVICES).parts
        for _, module in imports_of(path):
            target = domain_of(module)
            if len(parts) > 1 and target is not None and target[0] != parts[0]:
                users.setdefault(target[0], set()).add(parts[0])
    assert {"identity", "web"} <= users["notary"]
    assert {"notary", "identity", "citizen_auth", "sandboxes"} <= users["administrations"]
    assert "identity" in users["citizen_auth"] and "sandboxes" in users["rpc"]


def test_the_boundary_check_finds_imports_of_another_domains_internals(tmp_path: Path) -> None:
    for name in ("notary", "administrations", "web"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "web" / "pages.py").write_text(
        "from segell.services.notary import service\n"
        "from segell.services.notary import api\n"
        "from segell.services.administrations.models import Administration\n"
        "from ..administrations.api import Administration\n"
    )
    (tmp_path / "deps.py").write_text("from segell.services.notary.api import notarise\n")

    assert crossings(tmp_path) == [
        "deps.py:1 imports segell.services.notary.api",
        "web/pages.py:1 imports segell.services.notary.service",
        "web/pages.py:3 imports segell.services.administrations.models",
    ]
