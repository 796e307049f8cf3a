"""Arbitrary JSON and arbitrary frames thrown at a real chat worker: every one
gets a documented answer (a reply of a documented type, an error with a
documented code, or a close with a documented code), and the worker keeps
serving; its log holding a traceback fails the test (``stop_cleanly``)."""

import contextlib
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from chat import protocol

pytestmark = pytest.mark.server

ERROR_CODES = {error.code for error in protocol.ERRORS}
CLOSE_CODES = {close.code for close in protocol.CLOSE_CODES}
REPLY_SECONDS = 10

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
# Objects that look like client messages, so that the fuzzing reaches past the
# first check: a known type, and fields of any JSON type.
client_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(protocol.CLIENT_TYPES) | st.text(max_size=10)},
    optional={
        name: json_values | st.text(max_size=70)
        for name in ("room", "text", "since", "before", "after", "limit", "user")
    }
    | {"client_id": st.text(max_size=70) | json_values},
)
frames = (
    client_messages.map(json.dumps)
    | json_values.map(json.dumps)
    | st.text(max_size=200)
    | st.binary(max_size=200)
)


@pytest.fixture(scope="module")
def worker(start_module_daphne):
    # The fuzzing sends as fast as it can; the rate limit has its own tests.
    return start_module_daphne(CHAT_RATE_BURST="100000")


class Client:
    """One connection, opened again whenever the server closed it."""

    def __init__(self, port):
        self.url = f"ws://127.0.0.1:{port}/ws/chat/?name=fuzzer"
        self.stack = contextlib.ExitStack()
        self.websocket = None
        self.sentinels = itertools.count()

    def answers_to(self, frame):
        """What the server answers ``frame`` with, up to its answer to a
        sentinel sent after it (an unknown type, answered with its
        ``client_id``); or the close code it closed with."""
        if self.websocket is None:
            self.websocket = self.stack.enter_context(connect(self.url, max_size=None))
        sentinel = f"sentinel-{next(self.sentinels)}"
        try:
            self.websocket.send(frame)
            self.websocket.send(json.dumps({"type": "?", "client_id": sentinel}))
            answers = []
            while True:
                reply = json.loads(self.websocket.recv(timeout=REPLY_SECONDS))
                if reply.get("ref") == sentinel:
                    assert reply["code"] == "unknown_type"
                    return answers, None
                answers.append(reply)
        except ConnectionClosed as closed:
            self.websocket = None
            return [], closed.rcvd.code if closed.rcvd else None

    def close(self):
        self.stack.close()


@pytest.fixture(scope="module")
def client(worker):
    client = Client(worker.port)
    yield client
    client.close()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(frame=frames)
def test_every_frame_gets_a_documented_answer(client, frame):
    answers, close_code = client.answers_to(frame)
    if close_code is not None:
        assert close_code in CLOSE_CODES
    for answer in answers:
        assert answer["type"] in protocol.SERVER_TYPES
        if answer["type"] == "error":
            assert answer["code"] in ERROR_CODES
            assert isinstance(answer["detail"], str)


def test_the_worker_still_serves_after_the_fuzzing(client):
    answers, close_code = client.answers_to(
        json.dumps({"type": "join", "room": "after"})
    )
    assert close_code is None
    assert [answer["type"] for answer in answers if answer["type"] == "joined"] == [
        "joined"
    ]
