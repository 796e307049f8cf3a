// docs/examples/chat-view.mjs, the React-style example, against the real
// service (CHAT_WORKERS, from tests/test_js_clients.py): its store and views
// show the rooms, an unread count and the messages, from the library alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { App, connect, text } from "../../../docs/examples/chat-view.mjs";
import { OPEN } from "../src/chat-client.js";

const [url] = (process.env.CHAT_WORKERS || "").split(",");

function until(store, predicate) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not seen: ${text(App(store.getSnapshot()))}`)), 20000);
    const check = () => {
      if (!predicate(store.getSnapshot())) return;
      clearTimeout(timer);
      stop();
      resolve(store.getSnapshot());
    };
    const stop = store.subscribe(check);
    check();
  });
}

test("the example's views show rooms, unread counts and messages", async () => {
  const tag = Date.now().toString(36);
  const reader = connect(`${url}?name=reader${tag}`, `reader${tag}`);
  const writer = connect(`${url}?name=writer${tag}`, `writer${tag}`);
  try {
    await until(reader.store, (s) => s.state === OPEN);
    await until(writer.store, (s) => s.state === OPEN);
    await reader.store.open(`news-${tag}`);
    await reader.client.join(`side-${tag}`);
    const [news, side] = await Promise.all([`news-${tag}`, `side-${tag}`].map((name) => writer.client.join(name)));
    await news.send("front page");
    await side.send("meanwhile");
    const seen = await until(reader.store, (s) => s.messages.length === 1 && s.rooms.some((r) => r.unread === 1));
    const shown = text(App(seen));
    // The room on screen counts nothing unread; the other one its message.
    assert.match(shown, new RegExp(`^# news-${tag}$`, "m"));
    assert.match(shown, new RegExp(`^# side-${tag}1$`, "m"));
    assert.match(shown, new RegExp(`writer${tag} front page`));
    assert.doesNotMatch(shown, /meanwhile/);
  } finally {
    reader.client.close();
    writer.client.close();
  }
});
