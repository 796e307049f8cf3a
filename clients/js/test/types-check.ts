// Compiled by tsc --noEmit in the suite (tests/test_js_clients.py): the
// declarations describe the API as the docs use it, and misuse fails.
import { ChatClient, ChatError, Room, retryDelay } from "../src/chat-client.js";
import { EchoClient } from "../src/echo-client.js";

const client = new ChatClient(["ws://127.0.0.1:8000/ws/chat/"], { user: "alice" });
client.on("state", ({ state, code }) => console.log(state, code ?? ""));
client.on("rooms", (listing) => {
  for (const [name, entry] of listing) console.log(name, entry.unread ?? 0);
});
client.connect();

async function talk(): Promise<number> {
  const room: Room = await client.join("lobby");
  room.on("event", (item) => console.log(item.type === "message" ? item.text : item.action));
  room.on("change", ({ message }) => console.log(message.id, message.edited));
  const { id }: { id: number } = await room.send("hello");
  try {
    await room.edit(id, "hello again");
  } catch (error) {
    if (error instanceof ChatError && error.code === "muted") return -1;
  }
  const page = await room.loadOlder(20);
  return page.last_id + retryDelay(0);
}

async function echo(): Promise<string | Uint8Array> {
  const echoing = await new EchoClient("ws://127.0.0.1:8000/ws/echo/").opened;
  return echoing.send(new Uint8Array([1, 2, 3]));
}

// @ts-expect-error: a room's send takes text
client.join("lobby").then((room) => room.send(42));
// @ts-expect-error: no such state event payload field
client.on("state", (change) => change.attempts);
void talk;
void echo;

import { HttpFallbackSocket } from "../src/http-fallback.js";
const resilient = new ChatClient("ws://127.0.0.1:8000/ws/chat/", {
  fallback: { after: 2, Socket: HttpFallbackSocket },
});
resilient.on("state", ({ transport }) => console.log(transport === "http" ? "over HTTP" : "WebSocket"));
