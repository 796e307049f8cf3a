"""The benchmark's quick mode runs, so that it cannot rot; no speed is asserted."""

import json
import re
import subprocess
import sys

import pytest

from harness.rounds import medians
from tests import servers

pytestmark = pytest.mark.server


@pytest.mark.once
@pytest.mark.timeout(300)
def test_quick_benchmark_measures_every_mode_and_prints_ratios(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path), "--charts"],
        cwd=servers.REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads((tmp_path / "results.json").read_text())
    assert set(document["results"]) == modes_offered()
    for mode, rows in document["results"].items():
        assert rows, f"{mode} measured nothing"
    every_server = {
        "ours (1 worker)", "ours on granian", "stock Channels on daphne",
        "stock Channels on granian", "webrockets", "websockets + uvloop",
        "picows + uvloop",
    }  # fmt: skip
    measured = {row["target"] for row in document["results"]["echo"]}
    assert every_server <= measured, every_server - measured
    # A quick run measures the rest of the servers only in the echo.
    for mode in ("handshakes", "memory"):
        measured = {row["target"] for row in document["results"][mode]}
        assert {"ours (1 worker)", "websockets + uvloop"} <= measured, mode
    ceiling = [
        row
        for row in document["results"]["echo"]
        if row["target"] == "ours on picows (a ceiling)"
    ]
    assert ceiling and all(row["round_trips_per_s"] > 0 for row in ceiling)
    fanned = {row["target"]: row for row in document["results"]["fanout"]}
    for name in ("ours on granian, inbox layer", "webrockets, Redis broker"):
        assert fanned[name]["lost"] == fanned[name]["duplicates"] == 0, name
    ours = [
        row
        for row in document["results"]["fanout"]
        if row["target"] == "ours, inbox layer" and not row.get("idle_members")
    ]
    assert ours and all(row["lost"] == row["duplicates"] == 0 for row in ours)
    (chat,) = document["results"]["chat"]
    assert chat["lost"] == chat["duplicates"] == 0 and chat["accepted_per_s"] > 0
    rooms = [row for row in document["results"]["fallback"] if "members" in row]
    assert [row["target"] for row in rooms] == [
        "ours, WebSocket members",
        "ours, HTTP fallback members",
    ]
    assert all(row["lost"] == row["duplicates"] == 0 for row in rooms)
    assert "| ours, HTTP fallback members | 10 |" in result.stdout
    assert "KB on an event stream" in result.stdout
    (crowd,) = document["results"]["connections"]
    assert crowd["connections"] == 5000 and crowd["dropped_while_idle"] == 0
    assert crowd["closed_1001"] == 5000 and crowd["deliveries_per_s"] > 0
    assert crowd["not_seen_closed"] == 0
    assert "rt/s vs stock" in result.stdout and "rt/s vs webrockets" in result.stdout
    assert "vs websockets.broadcast" in result.stdout
    assert "| ours (1 worker) | 8 |" in result.stdout
    assert "permessage-deflate on vs off, 8 connections: rt/s" in result.stdout
    assert "permessage-deflate on vs off: KB per connection" in result.stdout
    assert (tmp_path / "echo.png").stat().st_size > 0


def modes_offered():
    """The modes ``python -m bench --help`` lists."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        cwd=servers.REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(re.search(r"--modes \{([a-z,-]+)\}", result.stdout).group(1).split(","))


def test_rounds_are_merged_into_medians_per_server_and_size():
    rounds = [
        {"target": "ours", "connections": 32, "round_trips_per_s": value}
        for value in (10.0, 30.0, 20.0)
    ] + [{"target": "ours", "connections": 256, "round_trips_per_s": 5.0}]
    assert medians(rounds) == [
        {"target": "ours", "connections": 32, "round_trips_per_s": 20.0},
        {"target": "ours", "connections": 256, "round_trips_per_s": 5.0},
    ]


@pytest.mark.once
def test_a_short_soak_loses_no_message_or_change_through_a_flood_churn_and_a_kill():
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--seconds", "10"],
        cwd=servers.REPOSITORY,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["lost"] == report["unconfirmed"] == report["stored twice"] == 0
    assert report["members whose state differs from the server's"] == 0
    assert report["members whose counts differ from the log's"] == 0
    assert report["threads whose reply count differs from the log's"] == 0
    assert report["files not as they should be"] == report["search misses"] == 0
    assert report["replies"] > 0 and report["files served, of live messages"] > 0
    assert report["searched at the end"] > 0
    assert report["reads"] > 0 and sum(report["changes"].values()) > 0
    assert report["stored"] >= report["sent by senders"] > 0
    assert report["flood closed with"] == 1008 and report["flood refused"] > 0
    assert report["reconnects"] > 0 and report["churned"] > 0
