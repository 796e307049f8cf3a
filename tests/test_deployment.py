"""docker-compose.yml and the Dockerfile: valid, and every command in them runs.

No Docker engine runs here, so each command is run directly, on loopback.
"""

import asyncio
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests import servers
from tests.client import connect, http_get, receive

pytestmark = pytest.mark.server

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


def test_compose_file_follows_the_compose_specification(compose):
    if not COMPOSE_SCHEMA.exists():
        pytest.skip(f"the Compose schema is not beside the checkout: {COMPOSE_SCHEMA}")
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.validate(compose, schema, cls=jsonschema.Draft7Validator)


def test_compose_runs_redis_a_database_migrations_web_workers_and_a_proxy(compose):
    services = compose["services"]
    assert set(services) == {"redis", "db", "migrate", "web", "proxy"}
    web = services["web"]["environment"]
    assert web["REDIS_URL"].startswith("redis://redis:")
    assert web["DATABASE_URL"].startswith("postgres://")
    assert services["web"]["deploy"]["replicas"] == 2


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
