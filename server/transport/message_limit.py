"""What our daphne declares in each WebSocket scope's extensions: that its
transport enforces WEBSOCKET_MAX_MESSAGE_SIZE on each message as the frames
arrive (``daphne_server.py`` adds the key). Under another ASGI server
(granian, uvicorn) the key is absent, and the consumer checks each whole
message against the setting itself (server/extensions/consumers.py)."""

SCOPE_KEY = "websocket.max_message_size"
