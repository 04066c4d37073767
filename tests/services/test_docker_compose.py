"""docker-compose.yml cannot run here (no Docker engine): check that it parses and that what it references exists."""

from pathlib import Path

import yaml

from segell.services.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_wires_api_anvil_and_postgres() -> None:
    services = load_compose()["services"]
    assert set(services) == {"api", "anvil", "postgres"}
    api = services["api"]
    assert api["environment"]["SEGELL_CHAIN"] == "/ipc/anvil.ipc"
    assert "@postgres:5432/" in api["environment"]["SEGELL_DATABASE_URL"]
    assert set(api["depends_on"]) == {"anvil", "postgres"}
    assert "--ipc=/ipc/anvil.ipc" in services["anvil"]["command"]


def test_compose_anvil_has_no_network_and_shares_only_its_socket() -> None:
    services = load_compose()["services"]
    anvil = services["anvil"]
    assert anvil["network_mode"] == "none" and "ports" not in anvil
    assert "--accounts=0" in anvil["command"]
    assert "anvil-ipc:/ipc" in anvil["volumes"] and "anvil-ipc:/ipc" in services["api"]["volumes"]
    assert [name for name, service in services.items() if "anvil-ipc:/ipc" in service.get("volumes", [])] == [
        "api",
        "anvil",
    ]


def test_compose_references_exist() -> None:
    compose = load_compose()
    declared_volumes = set(compose["volumes"])
    for name, service in compose["services"].items():
        for dependency in service.get("depends_on", {}):
            assert dependency in compose["services"], f"{name} depends on unknown service {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in declared_volumes, f"{name} mounts undeclared volume {source}"
        build = service.get("build")
        if build:
            context = ROOT / (build if isinstance(build, str) else build["context"])
            assert (context / "Dockerfile").is_file()


def test_compose_environment_names_real_settings() -> None:
    fields = {f"SEGELL_{name.upper()}" for name in Settings.model_fields}
    for variable in load_compose()["services"]["api"]["environment"]:
        assert variable in fields, f"{variable} is not a Segell setting"


def test_dockerfile_copies_existing_paths() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
