// The chat client's rules on a connection the test plays the server of:
// timeouts, what a dropped connection does to requests and to messages,
// which closes stop it, and the fallback after WebSockets fail to open.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChatClient, ChatError, OPEN, RETRYING, STOPPED } from "../src/chat-client.js";

class FakeSocket {
  static made = [];
  static refuse = false; // the constructor throws, as a blocked WebSocket does
  constructor(url) {
    if (new.target.refuse) throw new Error("blocked");
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.made.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() {}
  open() { this.readyState = 1; this.onopen({}); }
  reply(message) { this.onmessage({ data: JSON.stringify(message) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose({ code, reason: "" }); }
  last(type) { return this.sent.filter((m) => m.type === type).at(-1); }
}

function connected(options = {}) {
  FakeSocket.made = [];
  FakeSocket.refuse = false;
  const client = new ChatClient("ws://test/ws/chat/", { WebSocket: FakeSocket, firstRetry: 1, lastRetry: 1, ...options });
  client.connect();
  FakeSocket.made[0].open();
  return { client, socket: FakeSocket.made[0] };
}

function joinedReply(room, ref, last = 0) {
  return { type: "joined", room, ref, members: [], messages: [], last_id: last, epoch: "e1", reset: false, private: false, role: null, muted: false, read: null, seen: {} };
}

async function inRoom() {
  const { client, socket } = connected({ user: "ann" });
  const joining = client.join("lobby");
  socket.reply(joinedReply("lobby", socket.last("join").client_id));
  return { client, socket, room: await joining };
}

const opened = (client) => new Promise((resolve) => {
  const stop = client.on("state", ({ state }) => state === OPEN && (stop(), resolve()));
});

// Resolves once the client has made `count` sockets: a retry's timer fires
// when the event loop gets to it, later on a loaded machine.
function made(count, ms = 5000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const poll = setInterval(() => {
      if (FakeSocket.made.length >= count) {
        clearInterval(poll);
        resolve(FakeSocket.made[count - 1]);
      } else if (Date.now() > deadline) {
        clearInterval(poll);
        reject(new Error(`${FakeSocket.made.length} sockets made in ${ms} ms, not ${count}`));
      }
    }, 1);
  });
}

test("a request with no answer rejects with timeout", async () => {
  const { client } = connected({ requestTimeout: 20 });
  await assert.rejects(client.request("rooms"), (error) => error instanceof ChatError && error.code === "timeout");
  client.close();
});

test("an error naming a request rejects it with the protocol's code", async () => {
  const { client, socket, room } = await inRoom();
  const editing = room.edit(7, "x");
  socket.reply({ type: "error", code: "unknown_message", detail: "no such", ref: socket.last("edit").client_id });
  await assert.rejects(editing, (error) => error.code === "unknown_message");
  client.close();
});

test("a drop rejects requests but keeps a message, sent again once rejoined", async () => {
  const { client, socket, room } = await inRoom();
  const reacting = room.react(1, "👍");
  const sending = room.send("hello");
  const clientId = socket.last("message").client_id;
  socket.drop();
  await assert.rejects(reacting, (error) => error.code === "disconnected");
  assert.equal(client.state, RETRYING);
  const again = await made(2);
  again.open();
  const rejoin = again.last("join");
  assert.equal(rejoin.room, "lobby");
  again.reply(joinedReply("lobby", rejoin.client_id));
  assert.equal(again.last("message").client_id, clientId, "the same client_id, so it is stored once");
  again.reply({ type: "ack", ref: clientId, id: 1 });
  again.reply({ type: "message", room: "lobby", id: 1, author: "ann", text: "hello", ts: "t", client_id: clientId, edited: false, deleted: false, reactions: {} });
  assert.equal((await sending).id, 1);
  assert.equal(room.unsent.size, 0);
  client.close();
});

test("a gap is repaired with history, and each id applied once in order", async () => {
  const { client, socket, room } = await inRoom();
  const applied = [];
  room.on("event", (item) => applied.push(item.id));
  const message = (id) => ({ type: "message", room: "lobby", id, author: "bob", text: `m${id}`, ts: "t", client_id: null, edited: false, deleted: false, reactions: {} });
  socket.reply(message(1));
  socket.reply(message(3));
  const asked = socket.last("history");
  assert.equal(asked.after, 1);
  socket.reply({ type: "history", room: "lobby", ref: asked.client_id, messages: [message(2), message(3)], last_id: 3 });
  socket.reply(message(3));
  assert.deepEqual(applied, [1, 2, 3]);
  client.close();
});

for (const [code, reason] of [[3000, "signed_out"], [4001, "invalid_name"], [1009, "too_big"]]) {
  test(`close ${code} stops the client (${reason})`, async () => {
    const { client, socket } = connected();
    const states = [];
    client.on("state", (change) => states.push(change));
    socket.drop(code);
    assert.equal(client.state, STOPPED);
    assert.equal(states.at(-1).reason, reason);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(FakeSocket.made.length, 1, "no reconnection");
  });
}

test("a gap repair that goes unanswered is asked again", async () => {
  const { client, socket, room } = await inRoom();
  room.client.requestTimeout = 30;
  const message = (id) => ({ type: "message", room: "lobby", id, author: "bob", text: `m${id}`, ts: "t", client_id: null, edited: false, deleted: false, reactions: {} });
  socket.reply(message(1));
  socket.reply(message(3)); // 2 is missing
  const first = socket.last("history");
  const again = await new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      const next = socket.last("history");
      if (next.client_id !== first.client_id) done(resolve, next);
    }, 20);
    const deadline = setTimeout(() => done(reject, new Error("asked once only")), 5000);
    const done = (settle, value) => {
      clearInterval(poll);
      clearTimeout(deadline);
      settle(value);
    };
  });
  assert.equal(again.after, 1);
  client.close();
});

test("a message acked but never broadcast is fetched with history", async () => {
  const { client, socket, room } = await inRoom();
  const sending = room.send("hello");
  const sent = socket.last("message");
  // Stored as 1, but its broadcast was lost (a Redis node died with it).
  socket.reply({ type: "ack", ref: sent.client_id, id: 1 });
  const asked = await new Promise((resolve, reject) => {
    const poll = setInterval(() => socket.last("history") && done(resolve, socket.last("history")), 20);
    const deadline = setTimeout(() => done(reject, new Error("history never asked")), 5000);
    const done = (settle, value) => {
      clearInterval(poll);
      clearTimeout(deadline);
      settle(value);
    };
  });
  assert.equal(asked.after, 0);
  const stored = { type: "message", room: "lobby", id: 1, author: "ann", text: "hello", ts: "t", client_id: sent.client_id, edited: false, deleted: false, reactions: {} };
  socket.reply({ type: "history", room: "lobby", ref: asked.client_id, messages: [stored], last_id: 1 });
  assert.equal((await sending).id, 1);
  client.close();
});

test("a message sent before any event arrived is confirmed after a reconnect", { timeout: 5000 }, async (t) => {
  const { client, socket, room } = await inRoom();
  t.after(() => client.close());
  const sending = room.send("hello");
  const sent = socket.last("message");
  socket.drop(); // stored as 1, then the worker died before its broadcast
  const again = await made(2);
  again.open();
  const rejoin = again.last("join");
  // After 0 the page starts at the message; the newest page (others' 5 and 6) would not hold it.
  assert.equal(rejoin.since, 0);
  assert.equal(rejoin.epoch, "e1");
  const stored = { type: "message", room: "lobby", id: 1, author: "ann", text: "hello", ts: "t", client_id: sent.client_id, edited: false, deleted: false, reactions: {} };
  again.reply({ ...joinedReply("lobby", rejoin.client_id, 6), messages: [stored] });
  assert.equal((await sending).id, 1);
});

test("events of a new room that arrive out of order are all applied", { timeout: 5000 }, async (t) => {
  const { client, socket, room } = await inRoom();
  t.after(() => client.close());
  const applied = [];
  room.on("event", (event) => applied.push(event.id));
  const sending = room.send("hello");
  const sent = socket.last("message");
  const ours = { type: "message", room: "lobby", id: 1, author: "ann", text: "hello", ts: "t", client_id: sent.client_id, edited: false, deleted: false, reactions: {} };
  // The second worker's 2 comes before Redis brings the first's 1.
  socket.reply({ ...ours, id: 2, author: "bob", client_id: null });
  socket.reply(ours);
  assert.equal((await sending).id, 1);
  assert.deepEqual(applied, [1, 2]);
});

test("close 1013 is retried", async () => {
  const { client, socket } = connected();
  socket.drop(1013);
  assert.equal(client.state, RETRYING);
  client.close();
});

test("after WebSockets fail to open twice, the fallback transport", async () => {
  class Fallback extends FakeSocket {
    static refuse = false;
  }
  FakeSocket.made = [];
  FakeSocket.refuse = true;
  const client = new ChatClient("ws://test/ws/chat/", {
    WebSocket: FakeSocket, firstRetry: 1, lastRetry: 1, fallback: { after: 2, Socket: Fallback },
  });
  const open = opened(client);
  client.connect();
  const transport = await made(1);
  assert.equal(FakeSocket.made.length, 1, "two WebSockets refused, then one fallback");
  assert.ok(transport instanceof Fallback);
  transport.open();
  await open;
  assert.equal(client.transport, "http");
  client.close();
});

test("a rejoin refused for now is asked again on the same connection", async () => {
  const { client, socket } = await inRoom();
  socket.drop();
  const again = await made(2);
  again.open();
  const first = again.last("join");
  again.reply({ type: "error", code: "unavailable", detail: "the database is away", ref: first.client_id });
  const asked = await new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      clearInterval(poll);
      client.close();
      reject(new Error("no second join"));
    }, 5000);
    const poll = setInterval(() => {
      const next = again.last("join");
      if (next.client_id !== first.client_id) {
        clearInterval(poll);
        clearTimeout(deadline);
        resolve(next);
      }
    }, 20);
  });
  assert.equal(asked.room, "lobby");
  client.close();
});
