"""/metrics on real daphne workers: Prometheus's text format, figures that
move with the traffic, summed over workers, and not open to the world."""

import contextlib
import urllib.error
import urllib.request

import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests import servers
from tests.client import connect, receive, wait_until

pytestmark = [pytest.mark.server, pytest.mark.once, pytest.mark.beside]


def scrape(server, token=None):
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return parse(response.read().decode())


def parse(text):
    """{(sample name, labels as a sorted tuple): value}"""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(figures, name, **labels):
    return figures.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def counted(start_module_daphne):
    return start_module_daphne(WEBSOCKET_MAX_CONNECTIONS_PER_ADDRESS="3")


async def test_figures_move_with_connections_and_messages(counted):
    before = scrape(counted)
    async with connect(counted) as websocket:
        for number in range(3):
            await websocket.send(f"m{number}")
            await receive(websocket)
        during = scrape(counted)
    assert value(during, "websocket_connections_open") == 1
    for name in ("websocket_messages_received_total", "websocket_messages_sent_total"):
        assert value(during, name) - value(before, name) == 3
    await wait_until(lambda: value(scrape(counted), "websocket_connections_open") == 0)


async def test_refused_handshakes_are_counted_by_reason(counted):
    reason = "too many connections from this address"
    before = value(scrape(counted), "websocket_rejections_total", reason=reason)
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(connect(counted))
        with pytest.raises(websockets.InvalidStatus):
            async with connect(counted):
                pass
    after = value(scrape(counted), "websocket_rejections_total", reason=reason)
    assert after - before == 1


def test_without_a_token_only_loopback_may_read_them(start_daphne):
    server = start_daphne(extra_args=["--proxy-headers"])
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/metrics",
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403


def test_with_a_token_only_its_bearer_may_read_them(start_daphne):
    server = start_daphne(METRICS_TOKEN="s3cret")
    with pytest.raises(urllib.error.HTTPError) as refused:
        scrape(server)
    assert refused.value.code == 403
    with pytest.raises(urllib.error.HTTPError):
        scrape(server, token="wrong")
    assert "websocket_connections_open" in {
        name for name, _ in scrape(server, "s3cret")
    }


async def test_several_workers_are_summed_whichever_answers(
    logs_dir, server_database_url
):
    env = servers.service_environment(DATABASE_URL=server_database_url)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    launcher = servers.start_launcher(logs_dir / "metrics-launcher.log", env)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(8):
                await stack.enter_async_context(connect(launcher))
            # Each scrape lands on either worker; each must see all eight.
            for _ in range(6):
                assert value(scrape(launcher), "websocket_connections_open") == 8
    finally:
        launcher.stop()
