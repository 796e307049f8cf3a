"""docker-compose.yml and the Dockerfile: valid, and every command in them runs.

No Docker engine runs here, so each command is run directly, on loopback.
"""

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.processes import free_ports
from tests import servers
from tests.client import connect, http_get, receive

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]

COMPOSE_FILE = servers.REPOSITORY / "docker-compose.yml"
DOCKERFILE = servers.REPOSITORY / "Dockerfile"
COMPOSE_SCHEMA = servers.REPOSITORY.parent / "shared" / "schemas" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text())


def local_command(command):
    """A container's command as it runs here: ``python`` is this interpreter."""
    return [sys.executable if word == "python" else word for word in command]


def dockerfile_instruction(name):
    pattern = re.compile(rf"^{name}\s+(.+)$", re.MULTILINE)
    return pattern.findall(DOCKERFILE.read_text())


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.cluster.yml"])
def test_compose_files_follow_the_compose_specification(name):
    if not COMPOSE_SCHEMA.exists():
        pytest.skip(f"the Compose schema is not beside the checkout: {COMPOSE_SCHEMA}")
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    document = yaml.safe_load((servers.REPOSITORY / name).read_text())
    jsonschema.validate(document, schema, cls=jsonschema.Draft7Validator)


def test_compose_runs_redis_a_database_migrations_web_workers_and_a_proxy(compose):
    services = compose["services"]
    assert set(services) == {"redis", "db", "migrate", "web", "notifier", "proxy"}
    web = services["web"]["environment"]
    assert web["REDIS_URL"].startswith("redis://redis:")
    assert web["DATABASE_URL"].startswith("postgres://")
    shared = {"media:/app/media"}
    assert shared <= set(services["web"]["volumes"])
    assert shared <= set(services["notifier"]["volumes"])
    assert web["MEDIA_ROOT"] == "/app/media"
    assert services["web"]["deploy"]["replicas"] == 2


def test_compose_notifier_command_runs_and_stops_between_emails(compose, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'notifier.sqlite3'}"
    env = servers.service_environment(DATABASE_URL=database_url)
    migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
    subprocess.run(migrate, cwd=servers.REPOSITORY, env=env, check=True, timeout=120)
    command = local_command(compose["services"]["notifier"]["command"])
    notifier = subprocess.Popen(
        command,
        cwd=servers.REPOSITORY,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert "notifier started" in notifier.stderr.readline()
    notifier.terminate()
    assert notifier.wait(timeout=30) == 0, "SIGTERM (docker stop) ends it cleanly"
    assert "notifier stopped" in notifier.stderr.read()


def test_dockerfile_runs_as_a_user_other_than_root():
    users = dockerfile_instruction("USER")
    assert users and users[-1].strip() not in {"root", "0"}


def test_dockerfile_and_compose_start_the_same_command(compose):
    (cmd,) = dockerfile_instruction("CMD")
    web_command = compose["services"]["web"]["command"]
    assert web_command[: len(json.loads(cmd))] == json.loads(cmd)


def test_compose_web_command_serves_the_asgi_application(
    compose, logs_dir, server_database_url
):
    port = servers.free_port()
    env = servers.service_environment(
        DATABASE_URL=server_database_url, HOST="127.0.0.1", PORT=str(port)
    )
    command = local_command(compose["services"]["web"]["command"])
    web = servers.start(command, port, logs_dir / "compose-web.log", env=env)
    try:
        cmdline = Path(f"/proc/{web.process.pid}/cmdline").read_bytes().split(b"\0")
        assert b"project.asgi:application" in cmdline
        assert f"listening on http://127.0.0.1:{port}/ with 1 daphne worker" in web.log
        assert http_get(web, "/")[0] == 200
        assert asyncio.run(echo_once(web)) == "through the compose command"
        probe = local_command(compose["services"]["web"]["healthcheck"]["test"][1:])
        subprocess.run(probe, cwd=servers.REPOSITORY, env=env, check=True, timeout=30)
    finally:
        web.stop()


async def echo_once(server):
    async with connect(server) as websocket:
        await websocket.send("through the compose command")
        return await receive(websocket)


def test_compose_migrate_command_migrates_a_fresh_database(compose, tmp_path):
    database_url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    env = servers.service_environment(DATABASE_URL=database_url)
    command = local_command(compose["services"]["migrate"]["command"])
    subprocess.run(command, cwd=servers.REPOSITORY, env=env, check=True, timeout=120)
    check = [sys.executable, "manage.py", "migrate", "--check"]
    subprocess.run(check, cwd=servers.REPOSITORY, env=env, check=True, timeout=120)


def test_compose_redis_command_and_healthcheck_run(compose, logs_dir):
    port = servers.free_port()
    command = compose["services"]["redis"]["command"]
    command = [shutil.which(command[0]), *command[1:], "--port", str(port)]
    redis = servers.start(
        [*command, "--bind", "127.0.0.1"], port, logs_dir / "compose-redis.log"
    )
    try:
        client, *arguments = compose["services"]["redis"]["healthcheck"]["test"][1:]
        answer = subprocess.run(
            [client, "-p", str(port), *arguments],
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert answer.stdout.strip() == "PONG"
    finally:
        redis.stop()


def test_dockerfile_collectstatic_step_collects_the_client_files(tmp_path):
    (run,) = [line for line in dockerfile_instruction("RUN") if "collectstatic" in line]
    step = run.strip()
    env = servers.service_environment(STATIC_ROOT=str(tmp_path))
    subprocess.run(
        step.replace("python", sys.executable, 1),
        shell=True,
        cwd=servers.REPOSITORY,
        env=env,
        check=True,
        timeout=120,
    )
    assert (tmp_path / "echo" / "client.js").exists()
    # The chat page imports the client library from beside its own script.
    for library in ("chat-client.js", "http-fallback.js", "echo-client.js"):
        assert (tmp_path / "clients" / library).exists()
    assert not (tmp_path / "clients" / "node_modules").exists()


CLUSTER_FILE = servers.REPOSITORY / "docker-compose.cluster.yml"
NODE_ADDRESS = re.compile(r"\bredis(?:-(\d))?:6379\b")


@pytest.fixture(scope="module")
def cluster_compose():
    return yaml.safe_load(CLUSTER_FILE.read_text())


def test_cluster_compose_puts_the_workers_on_six_nodes_instead_of_one(
    compose, cluster_compose
):
    services = cluster_compose["services"]
    nodes = ["redis", *(f"redis-{number}" for number in range(2, 7))]
    assert set(nodes) <= set(services)
    assert set(services) - set(nodes) <= {"cluster-create", "migrate", "web"}
    assert set(services) - set(nodes) - {"cluster-create"} <= set(compose["services"])
    for service in ("web", "migrate"):
        url = services[service]["environment"]["REDIS_URL"]
        assert url.startswith("redis+cluster://redis:6379,")
    create = services["cluster-create"]["command"][-1]
    assert sorted(NODE_ADDRESS.findall(create)) == ["", "2", "3", "4", "5", "6"]


def test_cluster_compose_commands_form_a_cluster_the_service_is_ready_on(
    cluster_compose, logs_dir, server_database_url
):
    """Six nodes started with the compose command, joined by cluster-create's
    command (run twice: the second time it must leave the cluster alone), and
    a worker on the compose REDIS_URL, ready by its healthcheck."""
    services = cluster_compose["services"]
    names = ["redis", *(f"redis-{number}" for number in range(2, 7))]
    chosen = free_ports(2 * len(names))
    ports = dict(zip(names, chosen[: len(names)], strict=True))
    buses = dict(zip(names, chosen[len(names) :], strict=True))
    nodes = []
    try:
        for name, port in ports.items():
            command = services[name]["command"]
            config = logs_dir / f"nodes-{port}.conf"
            nodes.append(
                servers.start(
                    [
                        shutil.which(command[0]),
                        *command[1:],
                        "--cluster-config-file",
                        str(config),
                        # In a container these are its own; here, not the
                        # checkout, and not shared by the six.
                        "--dir",
                        str(logs_dir),
                        "--dbfilename",
                        f"compose-cluster-{port}.rdb",
                        "--cluster-port",
                        str(buses[name]),
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                    ],
                    port,
                    logs_dir / f"compose-cluster-{port}.log",
                )
            )

        def here(text):
            text = text.replace("-h redis -p 6379", f"-h 127.0.0.1 -p {ports['redis']}")
            return NODE_ADDRESS.sub(
                lambda match: f"localhost:{ports[match.group(0).split(':')[0]]}",
                text,
            )

        create = [*services["cluster-create"]["command"][:-1]]
        create.append(here(services["cluster-create"]["command"][-1]))
        for _ in range(2):
            created = subprocess.run(create, capture_output=True, text=True, timeout=60)
            assert created.returncode == 0, created.stdout + created.stderr

        url = here(services["web"]["environment"]["REDIS_URL"])
        env = servers.service_environment(
            DATABASE_URL=server_database_url, REDIS_URL=url
        )
        web = servers.start_daphne(logs_dir, env)
        try:
            status = None
            for _ in range(100):  # the cluster settles within seconds
                status, _, _ = http_get_status(web, "/readyz")
                if status == 200:
                    break
                time.sleep(0.1)
            assert status == 200
        finally:
            web.stop()
    finally:
        for node in nodes:
            node.stop()


def http_get_status(server, path):
    try:
        return http_get(server, path)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()
