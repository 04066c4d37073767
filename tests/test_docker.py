"""The Docker image and docker-compose.yml, with no Docker engine: every file the Dockerfile copies exists, the
image's entry point runs on exactly the files it copies and compiles and deploys a contract, and every volume
belongs to the user of each service that mounts it.

The image is laid out in a temporary folder by following the Dockerfile: each `COPY` is done, and each `RUN` is
done the way this test knows (npm's install from the lock file, the pip install of the two distributions, the
user's folder); a `RUN` it does not know fails the test, so that it is taught rather than skipped.
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import httpx
import pytest
import yaml

from segell.services.settings import Settings
from tests.distributions import SOURCES, build_wheels, clean_environment, fresh_venv, wait_until_healthy
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
IMAGE_HOME = "/data"
STOP_TIMEOUT_S = 30

# -- reading the Dockerfile --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    workdir: PurePosixPath  # the WORKDIR in force when it runs


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    destination: PurePosixPath
    from_stage: str | None
    into_directory: bool  # the destination ends with a slash or several sources go there: files keep their names


def dockerfile_stages(text: str = (ROOT / "Dockerfile").read_text()) -> list[Stage]:
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    workdir = PurePosixPath("/")
    for line in logical:
        keyword, _, arguments = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
            workdir = PurePosixPath("/")
            continue
        if keyword == "WORKDIR":
            workdir = workdir / arguments.strip()
        stages[-1].instructions.append(Instruction(keyword, arguments.strip(), workdir))
    return stages


def copy_of(instruction: Instruction) -> Copy:
    words = shlex.split(instruction.arguments)
    flags = [word for word in words if word.startswith("--")]
    paths = [word for word in words if not word.startswith("--")]
    from_stage = next((flag.split("=", 1)[1] for flag in flags if flag.startswith("--from=")), None)
    into_directory = paths[-1].endswith("/") or len(paths) > 2
    return Copy(tuple(paths[:-1]), instruction.workdir / paths[-1], from_stage, into_directory)


def environment_of(stage: Stage) -> dict[str, str]:
    environment: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for pair in shlex.split(instruction.arguments):
            name, _, value = pair.partition("=")
            environment[name] = value
    return environment


def final_stage() -> Stage:
    return dockerfile_stages()[-1]


def image_uid(stage: Stage) -> int:
    """The uid the stage's last USER names, through the `useradd --uid` that created it."""
    (user,) = [instruction.arguments for instruction in stage.all("USER")][-1:]
    name = user.split(":")[0]
    if name.isdigit():
        return int(name)
    for instruction in stage.all("RUN"):
        created = re.search(rf"useradd .*--uid (\d+)\b.* {re.escape(name)}\b", instruction.arguments)
        if created:
            return int(created.group(1))
    raise AssertionError(f"the Dockerfile runs as {name!r} but never creates it with useradd --uid")


# -- laying the image out ----------------------------------------------------------------------------------------


def ignored(relative: str) -> bool:
    """Whether .dockerignore keeps `relative` out of the build context."""
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        bare = pattern.removeprefix("**/")
        parts = relative.split("/")
        if pattern.startswith("**/") and bare in parts:
            return True
        if PurePosixPath(relative).match(pattern) or parts[0] == pattern:
            return True
    return False


def copy_from_context(source: str, target: Path) -> None:
    origin = ROOT / source
    assert origin.exists(), f"the Dockerfile copies {source}, which is not in the repository"
    if origin.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target)
        return
    for path in sorted(origin.rglob("*")):
        relative = path.relative_to(ROOT).as_posix()
        if ignored(relative) or path.is_dir() and not path.is_symlink():
            continue
        copied = target / path.relative_to(origin)
        copied.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            copied.symlink_to(os.readlink(path))
        else:
            shutil.copy2(path, copied)


def npm_production_packages(lock_file: Path) -> dict[str, str]:
    """What `npm ci --omit=dev` installs from `lock_file`: {path under the project: version}."""
    packages = json.loads(lock_file.read_text())["packages"]
    return {path: entry["version"] for path, entry in packages.items() if path and not entry.get("dev")}


def install_npm_production(project: Path) -> None:
    """`npm ci --omit=dev` in `project`, from the packages `make setup` installed in this checkout, version-checked."""
    for path, version in npm_production_packages(project / "package-lock.json").items():
        installed = ROOT / path
        found = json.loads((installed / "package.json").read_text())["version"]
        assert found == version, f"{path} is {found} here, the lock file pins {version}: run `npm ci`"
        shutil.copytree(installed, project / path, symlinks=True)


def in_image(root: Path, path: PurePosixPath | str) -> Path:
    return root / str(path).lstrip("/")


def lay_out_stage(stage: Stage, root: Path, built: dict[str, Path]) -> None:
    """Follow `stage` into `root`; `built` holds the roots of the stages before it, by name."""
    if stage.base.startswith("node:"):
        # What the base image brings that a later stage copies: Node itself.
        node = in_image(root, "/usr/local/bin/node")
        node.parent.mkdir(parents=True, exist_ok=True)
        node.symlink_to(shutil.which("node") or pytest.fail("node is needed to lay out the toolchain stage"))
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            in_image(root, instruction.workdir).mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            copy = copy_of(instruction)
            for source in copy.sources:
                if copy.from_stage is None:
                    origin = ROOT / source
                    target = copy.destination / origin.name if copy.into_directory and origin.is_file() else None
                    copy_from_context(source, in_image(root, target or copy.destination))
                else:
                    origin = in_image(built[copy.from_stage], source)
                    target = copy.destination / origin.name if copy.into_directory and not origin.is_dir() else None
                    destination = in_image(root, target or copy.destination)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    if origin.is_dir() and not origin.is_symlink():
                        shutil.copytree(origin, destination, symlinks=True, dirs_exist_ok=True)
                    else:
                        shutil.copy2(origin, destination, follow_symlinks=False)
        elif instruction.keyword == "RUN":
            run_in_image(instruction, root)


def run_in_image(instruction: Instruction, root: Path) -> None:
    command = instruction.arguments
    if command.startswith("npm ci --omit=dev"):
        install_npm_production(in_image(root, instruction.workdir))
    elif command == "pip install --no-cache-dir ./sdk .":
        pass  # the server's virtualenv: the two wheels, built from these very files (see below)
    elif command.startswith("useradd "):
        home = re.search(r"mkdir (\S+)", command)
        assert home is not None, command
        in_image(root, home.group(1)).mkdir(parents=True, exist_ok=True)
    else:
        pytest.fail(f"the Dockerfile runs {command!r}, which this test does not know how to do: teach it")


@dataclass(frozen=True)
class Image:
    root: Path
    environment: dict[str, str]
    workdir: Path
    command: list[str]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    built: dict[str, Path] = {}
    stages = dockerfile_stages()
    for number, stage in enumerate(stages):
        root = tmp_path_factory.mktemp(f"stage-{stage.name or number}")
        lay_out_stage(stage, root, built)
        built[stage.name or str(number)] = root
    final = stages[-1]
    root = built[final.name or str(len(stages) - 1)]
    (command,) = [json.loads(instruction.arguments) for instruction in final.all("CMD")]
    return Image(root, environment_of(final), in_image(root, final.instructions[-1].workdir), command)


# -- the Dockerfile ----------------------------------------------------------------------------------------------


def test_dockerfile_copies_only_what_exists() -> None:
    for stage in dockerfile_stages():
        for instruction in stage.all("COPY"):
            copy = copy_of(instruction)
            if copy.from_stage is None:
                for source in copy.sources:
                    assert (ROOT / source).exists(), f"the Dockerfile copies missing {source}"
                    assert not ignored(source), f".dockerignore leaves {source} out of the build context"
            else:
                assert copy.from_stage in {s.name for s in dockerfile_stages()}, instruction.arguments


def test_image_python_sources_are_what_the_wheels_are_built_from(image: Image) -> None:
    # The virtualenv below holds wheels built from tests/distributions.SOURCES: the same files, so that it is
    # what `pip install ./sdk .` gives in the image.
    copied = {
        path.relative_to(image.workdir).as_posix()
        for path in image.workdir.rglob("*")
        if path.is_symlink() or not path.is_dir()
    }
    sources = set()
    for name in SOURCES:
        origin = ROOT / name
        paths = [origin] if origin.is_file() else [p for p in origin.rglob("*") if not p.is_dir() or p.is_symlink()]
        sources |= {p.relative_to(ROOT).as_posix() for p in paths if not ignored(p.relative_to(ROOT).as_posix())}
    assert copied == sources


def test_image_toolchain_holds_the_compiler_and_openzeppelin_only(image: Image) -> None:
    toolchain = in_image(image.root, image.environment["SEGELL_TOOLCHAIN_DIR"])
    installed = sorted(path.name for path in (toolchain / "node_modules").iterdir())
    assert "solc" in installed and "@openzeppelin" in installed
    assert not (toolchain / "node_modules" / "@foundry-rs").exists()
    assert not (toolchain / "node_modules" / "@openzeppelin" / "merkle-tree").exists()
    assert os.access(toolchain / "tools" / "solc", os.X_OK)


@pytest.fixture(scope="module")
def server_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheels = build_wheels(tmp_path_factory)
    return fresh_venv(tmp_path_factory, "server", wheels.server, wheels.sdk)


@dataclass(frozen=True)
class ImageServer:
    url: str
    data: Path  # the image's /data volume


@pytest.fixture(scope="module")
def image_server(image: Image, server_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageServer]:
    """The image's CMD, run in the laid-out image with its ENV: its absolute paths lead into the image's folder,
    PATH holds the image's /usr/local/bin and the server's scripts and nothing else, and py-solc-x finds nothing."""
    data = tmp_path_factory.mktemp("image-data")
    port = free_port()
    environment = clean_environment(data) | {
        name: str(in_image(image.root, value)) if value.startswith("/") else value
        for name, value in image.environment.items()
    }
    environment |= {
        "SEGELL_HOME": str(data),  # the image's VOLUME
        "SEGELL_HOST": "127.0.0.1",
        "SEGELL_PORT": str(port),
        "PATH": os.pathsep.join([str(in_image(image.root, "/usr/local/bin")), str(server_python.parent)]),
        "SOLCX_BINARY_PATH": str(tmp_path_factory.mktemp("no-solcx")),
    }
    assert image.environment["SEGELL_HOME"] == IMAGE_HOME
    assert shutil.which("solc", path=environment["PATH"]) is None
    executable = shutil.which(image.command[0], path=environment["PATH"])
    assert executable is not None, f"{image.command[0]} is not on the image's PATH"
    log = data.parent / f"{data.name}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [executable, *image.command[1:]],
            cwd=image.workdir,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, process)
            yield ImageServer(url, data)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
            print(log.read_text())


COUNTER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract Counter is Ownable {
    uint256 public count;
    constructor() Ownable(msg.sender) {}
    function add(uint256 amount) external onlyOwner { count += amount; }
}
"""


@pytest.mark.slow
def test_image_entry_point_compiles_and_deploys_a_contract(image_server: ImageServer) -> None:
    governance = {"Authorization": f"Bearer {(image_server.data / 'governance.key').read_text().strip()}"}
    with httpx.Client(base_url=image_server.url, timeout=120) as http:
        admitted = http.post(
            "/v1/administrations", json={"code": "L01170792", "name": "Ajuntament"}, headers=governance
        )
        assert admitted.status_code == 201, admitted.text
        http.headers["Authorization"] = f"Bearer {admitted.json()['api_key']['key']}"
        sandbox = http.post("/v1/sandboxes", json={"name": "image", "backend": "embedded"})
        assert sandbox.status_code == 201, sandbox.text
        deployed = http.post(
            f"/v1/sandboxes/{sandbox.json()['id']}/contracts", json={"sources": {"Counter.sol": COUNTER}}
        )
        assert deployed.status_code == 201, deployed.text
        contract = deployed.json()
        assert contract["compiler_version"] == "0.8.37"
        assert "add(uint256)" in contract["functions"]
        assert contract["deployment"]["status"] == "success"


# -- docker-compose.yml ------------------------------------------------------------------------------------------


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def uid_of(service: dict) -> int:
    """The uid a compose service runs as: its `user`, else its image's USER (for the one built here)."""
    if "user" in service:
        return 0 if service["user"] == "root" else int(str(service["user"]).split(":")[0])
    assert "build" in service, "only the image built here has a USER this test can read"
    return image_uid(final_stage())


def volume_owners(init: dict) -> dict[str, int]:
    """{mount point: uid} for every `chown UID[:GID] PATH...` the init service runs."""
    owners = {}
    for command in init["command"]:
        for uid, paths in re.findall(r"chown (\d+)(?::\d+)? ((?:/\S+ ?)+)", command):
            owners |= {path: int(uid) for path in paths.split()}
    return owners


def test_compose_wires_api_anvil_and_postgres() -> None:
    services = load_compose()["services"]
    assert set(services) == {"init-volumes", "api", "anvil", "postgres"}
    api = services["api"]
    assert api["environment"]["SEGELL_CHAIN"] == "/ipc/anvil.ipc"
    assert "@postgres:5432/" in api["environment"]["SEGELL_DATABASE_URL"]
    assert set(api["depends_on"]) == {"init-volumes", "anvil", "postgres"}
    assert "--ipc=/ipc/anvil.ipc" in services["anvil"]["command"]


def test_compose_anvil_has_no_network_and_shares_only_its_socket() -> None:
    services = load_compose()["services"]
    anvil = services["anvil"]
    assert anvil["network_mode"] == "none" and "ports" not in anvil
    assert "--accounts=0" in anvil["command"]
    assert [name for name, service in services.items() if "anvil-ipc:/ipc" in service.get("volumes", [])] == [
        "init-volumes",
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


def test_compose_volumes_belong_to_the_users_that_write_them() -> None:
    services = load_compose()["services"]
    init = services["init-volumes"]
    assert uid_of(init) == 0
    owners = volume_owners(init)
    mounted_by_init = {volume.split(":")[0]: volume.split(":")[1] for volume in init["volumes"]}
    for name, service in services.items():
        if name in {"init-volumes", "postgres"}:  # postgres's image gives its data folder to its own user itself
            continue
        assert uid_of(service) != 0, f"{name} runs as root"
        assert service["depends_on"]["init-volumes"] == {"condition": "service_completed_successfully"}
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            assert source in mounted_by_init, f"init-volumes does not prepare {source}, which {name} writes to"
            assert owners[mounted_by_init[source]] == uid_of(service), f"{source} is not {name}'s"


def test_compose_api_user_is_the_images() -> None:
    api = load_compose()["services"]["api"]
    assert int(str(api["user"]).split(":")[0]) == image_uid(final_stage())
    # Its home, the volume, is made in the image for that user too (a fresh volume starts as a copy of it).
    assert final_stage().all("VOLUME")[0].arguments == IMAGE_HOME == environment_of(final_stage())["SEGELL_HOME"]
