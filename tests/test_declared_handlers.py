"""Chat message types are declared once and every one has exactly one handler:
a mismatch stops the import of the consumer with one line."""

import pytest

from chat import protocol
from chat.consumers import ChatConsumer
from server.extensions.handlers import UndeclaredMessageType, handles


def test_every_declared_client_type_has_its_handler():
    assert set(ChatConsumer.handlers) == set(protocol.CLIENT_TYPES)


def test_a_declared_type_without_a_handler_fails_when_the_class_is_made():
    with pytest.raises(UndeclaredMessageType) as raised:

        class Pinning(ChatConsumer):
            message_types = {**protocol.CLIENT_MESSAGES, "pin": ("room", "id")}

    (line,) = str(raised.value).splitlines()
    assert line == (
        "tests.test_declared_handlers.Pinning: message type 'pin' is declared "
        "but has no @handles method"
    )


def test_a_handler_for_an_undeclared_type_fails_when_the_class_is_made():
    with pytest.raises(UndeclaredMessageType) as raised:

        class Pinning(ChatConsumer):
            @handles("pin")
            async def on_pin(self, message):
                pass

    (line,) = str(raised.value).splitlines()
    assert "Pinning.on_pin handles 'pin', which is not a declared" in line


def test_a_subclass_adds_a_type_by_declaring_it_and_its_handler():
    class Pinning(ChatConsumer):
        message_types = {**protocol.CLIENT_MESSAGES, "pin": ("room", "id")}

        @handles("pin")
        async def on_pin(self, message):
            pass

    assert Pinning.handlers["pin"] == "on_pin"
    assert protocol.parse('{"type": "pin"}', Pinning.handlers)["type"] == "pin"
    with pytest.raises(protocol.ProtocolError):
        protocol.parse('{"type": "pin"}', ChatConsumer.handlers)


def test_two_handlers_for_one_type_in_one_class_fail_too():
    with pytest.raises(UndeclaredMessageType, match="both handle 'join'"):

        class Twice(ChatConsumer):
            @handles("join")
            async def on_join(self, message):
                pass

            @handles("join")
            async def on_join_again(self, message):
                pass


def test_overriding_a_handler_under_its_own_name_keeps_it_declared():
    class Quiet(ChatConsumer):
        async def on_typing(self, message):
            pass

    assert Quiet.handlers["typing"] == "on_typing"
