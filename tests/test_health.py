"""/healthz and /readyz on a real daphne, with its database and Redis up or not."""

import json
import urllib.error

import pytest

from tests import servers
from tests.client import http_get

pytestmark = pytest.mark.server

UNREACHABLE_POSTGRES = "postgres://nobody@127.0.0.1:1/none"


def readiness(server):
    try:
        status, _, body = http_get(server, "/readyz")
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, json.loads(body)


def test_healthz_answers_while_the_process_is_up(echo_server):
    status, _, body = http_get(echo_server, "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_readyz_is_ok_with_the_database_and_redis_answering(start_daphne, redis_url):
    server = start_daphne(REDIS_URL=redis_url)
    assert readiness(server) == (200, {"status": "ok", "database": "ok", "redis": "ok"})


def test_readyz_checks_no_redis_without_a_redis_channel_layer(echo_server):
    assert readiness(echo_server) == (200, {"status": "ok", "database": "ok"})


def test_readyz_is_503_naming_redis_when_redis_does_not_answer(start_daphne):
    dead = f"redis://127.0.0.1:{servers.free_port()}/0"
    status, body = readiness(start_daphne(REDIS_URL=dead))
    assert status == 503
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["redis"].startswith("failed: ")


def test_readyz_is_503_naming_the_database_when_it_does_not_answer(start_daphne):
    status, body = readiness(start_daphne(DATABASE_URL=UNREACHABLE_POSTGRES))
    assert status == 503
    assert body["database"].startswith("failed: ")
