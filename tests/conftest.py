import contextlib
import os
import subprocess
import sys

import pytest
import redis
from playwright.sync_api import sync_playwright

from harness.redis_topologies import Sentinels
from tests import servers
from tests.browser import launch


def pytest_collection_modifyitems(config, items):
    """scripts/test's two passes share out the tests marked ``once``: with
    ONCE_LATER set (the SQLite pass, when a PostgreSQL pass follows) it runs
    only those also marked ``beside``; with BESIDE_EARLIER set (that
    PostgreSQL pass) it leaves those to the SQLite pass."""
    if os.environ.get("ONCE_LATER"):
        elsewhere = pytest.mark.skip(reason="scripts/test runs it in the PG pass")

        def skipped(item):
            return item.get_closest_marker("once") and not item.get_closest_marker(
                "beside"
            )
    elif os.environ.get("BESIDE_EARLIER"):
        elsewhere = pytest.mark.skip(reason="scripts/test runs it in the SQLite pass")

        def skipped(item):
            return item.get_closest_marker("beside")
    else:
        return
    for item in items:
        if skipped(item):
            item.add_marker(elsewhere)


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def server_database_url(tmp_path_factory):
    """The database the daphne subprocesses use, migrated once.

    DATABASE_URL when it is set (CI sets PostgreSQL), else a fresh SQLite file.
    """
    url = os.environ.get("DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'server.sqlite3'}"
    )
    env = servers.service_environment(DATABASE_URL=url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=servers.REPOSITORY,
        env=env,
        check=True,
    )
    return url


@pytest.fixture(scope="session")
def redis_url(logs_dir):
    """REDIS_URL when it is set; otherwise a redis-server of our own."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    redis = servers.start_redis(logs_dir)
    yield f"redis://127.0.0.1:{redis.port}/0"
    redis.stop()


@pytest.fixture(scope="session")
def echo_server(logs_dir, server_database_url):
    """One daphne, started the documented way, on the embedded channel layer."""
    env = servers.service_environment(DATABASE_URL=server_database_url)
    server = servers.start_daphne(logs_dir, env)
    yield server
    stop_cleanly(server)


@contextlib.contextmanager
def daphne_starter(logs_dir, database_url):
    """A function that starts daphne with extra settings; all are stopped at exit."""
    started = []

    def start(extra_args=(), port=None, application=None, **settings):
        env = servers.service_environment(**{"DATABASE_URL": database_url, **settings})
        server = servers.start_daphne(
            logs_dir,
            env,
            port=port,
            extra_args=extra_args,
            application=application or "project.asgi:application",
        )
        started.append(server)
        return server

    yield start
    # Every server stops before any log is judged: a failed check must not
    # leave the others running.
    for server in started:
        server.stop()
    for server in started:
        stop_cleanly(server)


@pytest.fixture
def start_daphne(logs_dir, server_database_url):
    """Start daphne processes for one test."""
    with daphne_starter(logs_dir, server_database_url) as start:
        yield start


@pytest.fixture(scope="module")
def start_module_daphne(logs_dir, server_database_url):
    """Start daphne processes that a module's tests share (none may stop them)."""
    with daphne_starter(logs_dir, server_database_url) as start:
        yield start


@pytest.fixture
def redis_workers(start_daphne, redis_url):
    """Two daphne processes on two ports sharing one Redis, its keys cleared."""
    redis.Redis.from_url(redis_url).flushdb()
    return [start_daphne(REDIS_URL=redis_url) for _ in range(2)]


@pytest.fixture
def sentinels(logs_dir):
    """A Redis master, its replica and three Sentinels of this test's own."""
    topology = Sentinels(logs_dir)
    yield topology
    topology.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright. Module scope: the
    sync API holds an event loop in this thread until it stops, and the async
    tests of later modules need the thread's loop free."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def stop_cleanly(server):
    """Stop a daphne; an exception that reached its log fails the test."""
    server.stop()
    assert "Traceback" not in server.log, f"unhandled exception in {server.log_path}"
