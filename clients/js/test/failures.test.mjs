// The chat client against the real service through failures of real
// processes. tests/test_js_clients.py starts two daphne workers and Redis and
// runs each test here by name, with the environment saying where they are:
//   CHAT_WORKERS      the workers' /ws/chat/ URLs, comma-separated
//   KILL_PID          the worker to SIGKILL (the first of CHAT_WORKERS)
//   REDIS_MASTER_PID  the Redis master to SIGKILL (Sentinel promotes its replica)
// Two writers, one on each worker, post a paced conversation; a reader on
// each worker listens. Every member must apply every message once and in
// order, and each writer must see each of its messages confirmed once.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ChatClient, DEGRADED, OPEN } from "../src/chat-client.js";

const WORKERS = (process.env.CHAT_WORKERS || "").split(",").filter(Boolean);
const PER_WRITER = 60;
const PACE_MS = 20;
const CONVERGE_MS = 45000; // a bound, not an expectation: it takes seconds
const dead = new Set();

function member(name, first) {
  // Where a client connects: its own worker first, then the live ones in turn.
  const url = (attempt) => {
    const alive = WORKERS.filter((worker) => !dead.has(worker));
    return `${alive[(first + attempt) % alive.length]}?name=${name}`;
  };
  const client = new ChatClient(url, { user: name, firstRetry: 100, lastRetry: 1000 });
  client.applied = []; // every message applied, in the order applied
  client.states = [];
  client.on("state", ({ state }) => client.states.push(state));
  client.connect();
  return client;
}

function until(what, room, predicate, ms = CONVERGE_MS) {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${what}: not within ${ms} ms`));
    }, ms);
    const stop = room.on("event", () => {
      if (!predicate()) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

function told(client, wanted) {
  if (client.state === wanted) return Promise.resolve();
  return new Promise((resolve) => {
    const stop = client.on("state", ({ state }) => {
      if (state === wanted) {
        stop();
        resolve();
      }
    });
  });
}

async function conversation(failure) {
  assert.equal(WORKERS.length, 2, "CHAT_WORKERS names two workers");
  const room = `js-${failure.name}-${Date.now().toString(36)}`;
  const writers = [member("wa", 0), member("wb", 1)];
  const readers = [member("ra", 0), member("rb", 1)];
  const everyone = [...writers, ...readers];
  try {
    return await converse(failure, room, writers, readers);
  } finally {
    for (const client of everyone) client.close();
  }
}

async function converse(failure, room, writers, readers) {
  const everyone = [...writers, ...readers];
  await Promise.all(everyone.map((client) => told(client, OPEN)));
  const rooms = await Promise.all(everyone.map((client) => client.join(room)));
  everyone.forEach((client, index) => {
    rooms[index].on("event", (item) => item.type === "message" && client.applied.push(item));
  });

  // The writers post in turns, PACE_MS apart; the failure comes before turn
  // failure.at, and the turns go on once it has been provoked.
  const confirmed = writers.map(() => []);
  const sends = [];
  for (let n = 0; n < PER_WRITER; n += 1) {
    if (n === failure.at) await failure.provoke(everyone);
    writers.forEach((writer, w) => {
      const sent = rooms[w].send(`${writer.user} ${n}`, { timeout: CONVERGE_MS });
      sends.push(sent.then((message) => confirmed[w].push(message.id)));
    });
    await new Promise((resolve) => setTimeout(resolve, PACE_MS));
  }
  await Promise.all(sends);

  const total = writers.length * PER_WRITER;
  await Promise.all(rooms.map((joined, i) =>
    until(`${everyone[i].user} has all ${total}`, joined, () => everyone[i].applied.length >= total)));

  for (const client of everyone) {
    const ids = client.applied.map((message) => message.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), `${client.user} applied out of order`);
    assert.equal(new Set(ids).size, ids.length, `${client.user} applied one twice`);
    const texts = client.applied.map((message) => message.text);
    assert.equal(new Set(texts).size, total, `${client.user} saw a text twice or missed one`);
    for (const writer of writers) {
      const own = texts.filter((text) => text.startsWith(`${writer.user} `));
      assert.deepEqual(own, [...Array(PER_WRITER).keys()].map((n) => `${writer.user} ${n}`));
    }
  }
  for (const ids of confirmed) {
    assert.equal(ids.length, PER_WRITER);
    assert.equal(new Set(ids).size, PER_WRITER, "a message confirmed under two ids");
  }
  assert.deepEqual(rooms.map((joined) => joined.unsent.size), [0, 0, 0, 0]);
  return everyone;
}

test("a killed worker's clients resume on the other and nothing is lost or doubled", async () => {
  const clients = await conversation({
    name: "kill",
    at: PER_WRITER / 3,
    provoke() {
      dead.add(WORKERS[0]);
      process.kill(Number(process.env.KILL_PID), "SIGKILL");
    },
  });
  // The first worker's clients were cut off and came back.
  assert.ok(clients[0].states.includes("closed-will-retry"));
  assert.ok(clients[2].states.includes("closed-will-retry"));
});

test("a Redis failover is ridden out: degraded, restored, and nothing is lost or doubled", async () => {
  const clients = await conversation({
    name: "failover",
    // The last turns go while Redis is down, so that what each worker's
    // members miss is found only by asking once restored, not by a gap that
    // a later message shows.
    at: PER_WRITER - 5,
    provoke(everyone) {
      process.kill(Number(process.env.REDIS_MASTER_PID), "SIGKILL");
      return Promise.all(everyone.map((client) => told(client, DEGRADED)));
    },
  });
  for (const client of clients) assert.equal(client.states.at(-1), "stopped");
});
