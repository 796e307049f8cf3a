"""Several daphne workers behind one address: the launcher, and nginx in front."""

import asyncio
import getpass
import shutil
import signal
import time
import urllib.error
import urllib.request

import psutil
import pytest
import redis

from harness.event_stream import EventStream, send
from tests import servers
from tests.client import connect, receive

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]

NGINX_CONF = servers.REPOSITORY / "deploy" / "nginx.conf"


async def members_hear_each_other(server, count, path="/ws/echo/workers/"):
    members = [await connect(server, path).__aenter__() for _ in range(count)]
    try:
        await members[0].send("to everyone")
        return [await receive(member) for member in members]
    finally:
        for member in members:
            await member.close()


def worker_processes(launcher):
    return psutil.Process(launcher.process.pid).children()


def test_launcher_runs_the_asked_number_of_workers_on_one_port(
    logs_dir, server_database_url, redis_url
):
    redis.Redis.from_url(redis_url).flushdb()
    env = servers.service_environment(
        DATABASE_URL=server_database_url, REDIS_URL=redis_url
    )
    launcher = servers.start_launcher(logs_dir / "launcher.log", env)
    try:
        # The port listens as soon as the launcher binds it, before it has
        # started every worker.
        deadline = time.monotonic() + 10
        while len(workers := worker_processes(launcher)) < 2:
            assert time.monotonic() < deadline, "the launcher started too few"
            time.sleep(0.05)
        assert len(workers) == 2
        heard = asyncio.run(members_hear_each_other(launcher, 8))
        assert heard == ["to everyone"] * 8

        workers[0].send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:
            pids = [worker.pid for worker in worker_processes(launcher)]
            if len(pids) == 2 and workers[0].pid not in pids:
                break
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.1)
        heard = asyncio.run(members_hear_each_other(launcher, 8))
        assert heard == ["to everyone"] * 8
        workers = worker_processes(launcher)
    finally:
        launcher.stop()
    assert not any(worker.is_running() for worker in workers)


@pytest.fixture
def nginx_in_front_of(tmp_path, logs_dir):
    """deploy/nginx.conf, run for real, with its upstream pointed at our ports."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    started = []

    def start(upstream_ports):
        port = servers.free_port()
        site = NGINX_CONF.read_text()
        upstream = "".join(f"server 127.0.0.1:{p};\n    " for p in upstream_ports)
        site = site.replace("server web:8000;", upstream).replace(
            "listen 80;", f"listen 127.0.0.1:{port};"
        )
        (tmp_path / "site.conf").write_text(site)
        (tmp_path / "nginx.conf").write_text(
            # Workers as the master's user (root here, where its default
            # "nobody" could not write the test's temporary body files).
            f"user {getpass.getuser()};\n"
            f"pid {tmp_path}/nginx.pid;\nerror_log {logs_dir}/nginx-error.log;\n"
            "events {}\nhttp {\n"
            f"  access_log off;\n  client_body_temp_path {tmp_path}/body;\n"
            f"  proxy_temp_path {tmp_path}/proxy;\n"
            f"  include {tmp_path}/site.conf;\n}}\n"
        )
        nginx = servers.start(
            [
                binary,
                "-p",
                str(tmp_path),
                "-c",
                str(tmp_path / "nginx.conf"),
                "-g",
                "daemon off;",
            ],
            port,
            logs_dir / "nginx.log",
        )
        started.append(nginx)
        return nginx

    yield start
    for nginx in started:
        nginx.stop()


def test_nginx_config_proxies_websockets_to_both_workers(
    start_daphne, nginx_in_front_of, redis_url
):
    redis.Redis.from_url(redis_url).flushdb()
    workers = [start_daphne(["--proxy-headers"], REDIS_URL=redis_url) for _ in range(2)]
    proxy = nginx_in_front_of([worker.port for worker in workers])
    heard = asyncio.run(members_hear_each_other(proxy, 6))
    assert heard == ["to everyone"] * 6
    for worker in workers:
        assert "WSCONNECT /ws/echo/workers/" in worker.log


def test_nginx_config_passes_the_http_fallback_unbuffered(
    start_daphne, nginx_in_front_of, redis_url
):
    """A stream opened through nginx hears its POSTs' answers at once, wherever
    nginx sends each POST."""
    redis.Redis.from_url(redis_url).flushdb()
    workers = [start_daphne(["--proxy-headers"], REDIS_URL=redis_url) for _ in range(2)]
    proxy = nginx_in_front_of([worker.port for worker in workers])

    async def converse():
        stream = EventStream(proxy.port, "/sse/chat/?name=proxied")
        assert await stream.open() == 200
        await stream.next_event()  # the session
        try:
            for number in range(4):
                join = {"type": "join", "room": "via-nginx", "client_id": f"j{number}"}
                assert await send(proxy.port, stream, join) == 202
                async with asyncio.timeout(10):
                    while (await stream.next_message()).get("ref") != f"j{number}":
                        pass
        finally:
            stream.close()

    asyncio.run(converse())
    assert all("POST /sse/send" in worker.log for worker in workers)


def test_nginx_config_takes_an_upload_and_refuses_a_body_past_its_limit(
    start_daphne, nginx_in_front_of, tmp_path
):
    worker = start_daphne(["--proxy-headers"], MEDIA_ROOT=str(tmp_path / "media"))
    proxy = nginx_in_front_of([worker.port])

    def post(size):
        request = urllib.request.Request(
            f"http://127.0.0.1:{proxy.port}/chat/files", data=b"x" * size, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as refused:
            return refused.code

    # Under the limit the worker answers (no CSRF token: 403); past it, nginx.
    assert post(10 * 1024 * 1024) == 403
    assert post(12 * 1024 * 1024) == 413
    assert worker.log.count('"POST /chat/files"') == 1, "the larger never reached it"
