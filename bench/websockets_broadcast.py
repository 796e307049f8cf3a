"""The fan-out ceiling in Python: websockets' own broadcast, one process per
core, the processes joined by Redis pub/sub.

A message from any client is published once; each process hands the bytes it
receives to ``websockets.broadcast``, which frames them once and writes them to
every local client. There are no groups (every client hears everything), no
delivery guarantee and no bound but websockets' own: the least a server can do.
"""

import argparse
import asyncio

import uvloop
from redis import asyncio as aioredis
from websockets.asyncio.server import broadcast, serve

CHANNEL = "bench-broadcast"


async def main(port, redis_url):
    publisher = aioredis.Redis.from_url(redis_url)
    clients = set()

    async def member(websocket):
        clients.add(websocket)
        try:
            async for message in websocket:
                await publisher.publish(CHANNEL, message)
        finally:
            clients.discard(websocket)

    async def relay():
        async with publisher.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            async for event in pubsub.listen():
                if event["type"] == "message":
                    broadcast(clients, event["data"].decode())

    asyncio.get_running_loop().create_task(relay())
    async with serve(member, "127.0.0.1", port, max_size=1024 * 1024):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    arguments = parser.parse_args()
    uvloop.run(main(arguments.port, arguments.redis))
