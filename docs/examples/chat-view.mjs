// A newcomer's front end on the chat client library, React-style: a store
// with subscribe and getSnapshot (what React's useSyncExternalStore takes)
// and views that are pure functions of a snapshot. Only the library is used;
// h() builds plain element objects, so this runs (and is tested) without
// React: clients/js/test/example.test.mjs. With React, h is React.createElement
// and a component reads the store with useSyncExternalStore (docs/clients.md).
import { ChatClient } from "../../clients/js/src/chat-client.js";

export const h = (tag, props, ...children) => ({ tag, props: props || {}, children: children.flat() });

/** The client's state as one immutable snapshot, made anew on every change. */
export function chatStore(client) {
  const listeners = new Set();
  let current = null;
  let snapshot = null;
  const changed = () => {
    snapshot = null;
    for (const listener of listeners) listener();
  };
  client.on("state", changed);
  client.on("rooms", changed);
  client.on("room", (room) => {
    for (const kind of ["joined", "event", "change", "older", "reset", "presence"]) room.on(kind, changed);
  });
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    getSnapshot() {
      snapshot ??= {
        state: client.state,
        current,
        rooms: [...new Set([...client.listing.keys(), ...client.rooms.keys()])].sort().map((name) => ({
          name,
          unread: name === current ? 0 : client.listing.get(name)?.unread ?? 0,
        })),
        messages: (client.rooms.get(current)?.list() ?? []).filter((item) => item.type === "message"),
      };
      return snapshot;
    },
    async open(name) {
      current = name;
      client.viewing = name;
      changed();
      return client.join(name);
    },
  };
}

export function RoomList({ rooms, current }) {
  return h("ul", { class: "rooms" }, rooms.map((room) =>
    h("li", { key: room.name, class: room.name === current ? "current" : "" },
      `# ${room.name}`, room.unread ? h("span", { class: "unread" }, String(room.unread)) : [])));
}

export function MessageList({ messages }) {
  return h("ol", { class: "messages" }, messages.map((message) =>
    h("li", { key: message.id }, h("b", null, message.author), " ", message.deleted ? "(deleted)" : message.text)));
}

export function App(snapshot) {
  return h("div", null, h("p", null, snapshot.state), RoomList(snapshot), MessageList(snapshot));
}

/** An element tree as text, for a terminal or a test. */
export function text(node) {
  return typeof node === "string" ? node : node.children.map(text).join(node.tag === "li" ? "" : "\n");
}

export function connect(url, user) {
  const client = new ChatClient(url, { user });
  client.connect();
  return { client, store: chatStore(client) };
}
