"""An ASGI application for the tests: accepts, then closes with the code given
in the query string (``?code=1005``), on the project's patched daphne."""

from urllib.parse import parse_qs

import project.asgi  # noqa: F401 - installs server.transport


async def application(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    query = parse_qs(scope["query_string"].decode())
    await send(
        {"type": "websocket.close", "code": int(query["code"][0]), "reason": "asked"}
    )
    while (await receive())["type"] != "websocket.disconnect":
        pass
