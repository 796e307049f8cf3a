// The chat page: one WebSocket to /ws/chat/, the protocol of docs/chat-protocol.md.
// Every message has its room's next id: the page shows each id once, in
// order, asks for what a gap hides, and resumes with "since" after a
// reconnect. Text goes into the page through textContent only, never as HTML.
"use strict";

const app = document.getElementById("app");
const $ = (id) => document.getElementById(id);
const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 4000;
const RECONNECT_MAX_MS = 30000;

const rooms = new Map(); // name -> room state, for every room joined
let socket = null;
let current = null; // the room on screen
let attempts = 0; // reconnections since the last successful join
let stopped = false; // the server said not to reconnect
let lastTypingSent = 0;
let me = app.dataset.user || localStorage.getItem("chat-name") || "";

function roomState(name) {
  if (!rooms.has(name)) {
    rooms.set(name, {
      name, lastId: 0, messages: new Map(), waiting: new Map(), members: new Set(),
      typing: new Map(), joined: false, repairing: false, unread: 0, oldest: null,
      unsent: new Map(), // client_id -> text, until the server echoes it
    });
  }
  return rooms.get(name);
}

// The connection.

function connect() {
  if (!me) return setStatus("offline", "pick a name");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = app.dataset.user ? "" : `?name=${encodeURIComponent(me)}`;
  socket = new WebSocket(`${scheme}//${location.host}/ws/chat/${query}`);
  setStatus("connecting", "connecting");
  socket.onopen = () => {
    setStatus("online", "online");
    send({ type: "rooms" });
    for (const room of rooms.values()) {
      room.joined = false;
      send(joinMessage(room.name, room.lastId || undefined));
    }
    if (rooms.size === 0) join("lobby");
  };
  socket.onmessage = (event) => receive(JSON.parse(event.data));
  socket.onclose = (event) => {
    setStatus("offline", `offline (${event.code})`);
    if (event.code === 4001) {
      stopped = true;
      showError("Choose another name: that one is taken or invalid.");
      localStorage.removeItem("chat-name");
    }
    if (event.code === 3000) {
      // Signed out elsewhere: this page's identity is gone; it stays so.
      stopped = true;
      setStatus("offline", "signed out");
      $("text").disabled = true;
      $("send").disabled = true;
      $("error").className = "error";
      $("error").textContent = "You were signed out. Reload the page to log in again.";
    }
    if (!stopped) setTimeout(connect, backoff());
  };
}

function backoff() {
  // Exponential, capped, with jitter so that a restarted server is not met by
  // every client in the same instant.
  const ceiling = Math.min(RECONNECT_MAX_MS, 500 * 2 ** attempts++);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function joinMessage(name, since) {
  return { type: "join", room: name, since };
}

// What the server sends.

const handlers = {
  joined(message) {
    const room = roomState(message.room);
    room.joined = true;
    attempts = 0;
    room.members = new Set(message.members);
    accept(room, message.messages, message.last_id);
    for (const [clientId, text] of room.unsent) send({ type: "message", room: room.name, text, client_id: clientId });
    if (!current || current === room.name) show(room.name);
    renderRooms();
  },
  message(message) {
    const room = roomState(message.room);
    room.unsent.delete(message.client_id);
    accept(room, [message], null);
  },
  history(message) {
    const room = roomState(message.room);
    room.repairing = false;
    accept(room, message.messages, message.last_id);
  },
  presence(message) {
    const room = roomState(message.room);
    message.joined.forEach((user) => room.members.add(user));
    message.left.forEach((user) => room.members.delete(user));
    if (current === room.name) renderMembers(room);
  },
  typing(message) {
    const room = roomState(message.room);
    room.typing.set(message.user, Date.now() + TYPING_SHOWN_MS);
    if (current === room.name) renderTyping(room);
    setTimeout(() => current === room.name && renderTyping(room), TYPING_SHOWN_MS + 50);
  },
  rooms(message) {
    for (const { name } of [...message.rooms, ...message.direct]) knownRooms.add(name);
    renderRooms();
  },
  left() {},
  notice(message) { showNotice(message.text); },
  error(message) { showError(`${message.code}: ${message.detail}`); },
  degraded() {
    // Messages still go to the server and are stored; some live ones may not
    // reach this page until Redis is back.
    setStatus("degraded", "online, delayed");
  },
  restored() {
    setStatus("online", "online");
    for (const room of rooms.values()) {
      if (room.joined) send({ type: "history", room: room.name, after: room.lastId });
    }
  },
};
const knownRooms = new Set();

function receive(message) {
  (handlers[message.type] || (() => {}))(message);
}

// Messages in order, once each.

function accept(room, messages, lastId) {
  let older = false;
  for (const message of messages) {
    if (room.messages.has(message.id)) continue;
    if (message.id <= room.lastId) {
      // Older history: shown above what is there.
      room.messages.set(message.id, message);
      older = true;
    } else {
      room.waiting.set(message.id, message);
    }
  }
  if (room.lastId === 0 && room.waiting.size && !room.messages.size) {
    // A first join without "since": the newest page starts wherever it starts.
    room.lastId = Math.min(...room.waiting.keys()) - 1;
    room.oldest = room.lastId + 1;
  }
  while (room.waiting.has(room.lastId + 1)) {
    const next = room.waiting.get(room.lastId + 1);
    room.waiting.delete(next.id);
    room.messages.set(next.id, next);
    room.lastId = next.id;
    if (current !== room.name) room.unread++;
    else appendMessage(next);
  }
  if (lastId !== null && lastId > room.lastId && room.oldest === null && !room.messages.size) {
    room.lastId = lastId;
  }
  const highest = Math.max(lastId ?? 0, ...room.waiting.keys());
  if (highest > room.lastId && !room.repairing && room.joined) {
    // A gap: ask for what it hides.
    room.repairing = true;
    send({ type: "history", room: room.name, after: room.lastId });
  }
  if (older && current === room.name) show(room.name);
  if (room.oldest === null || older) room.oldest = Math.min(...room.messages.keys(), room.lastId + 1);
  if (current === room.name) $("older").hidden = !(room.oldest > 1);
  renderRooms();
}

// The page.

function show(name) {
  current = name;
  const room = roomState(name);
  room.unread = 0;
  $("room-title").textContent = name.startsWith("dm.") ? `Direct: ${name.slice(3)}` : `# ${name}`;
  const list = $("messages");
  list.replaceChildren();
  [...room.messages.keys()].sort((a, b) => a - b).forEach((id) => appendMessage(room.messages.get(id)));
  $("older").hidden = !(room.oldest > 1);
  $("text").disabled = $("send").disabled = false;
  renderMembers(room);
  renderTyping(room);
  renderRooms();
}

function appendMessage(message) {
  const item = document.createElement("li");
  item.dataset.id = message.id;
  if (message.author === me) item.className = "mine";
  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = message.author;
  const time = document.createElement("time");
  time.dateTime = message.ts;
  time.textContent = new Date(message.ts).toLocaleTimeString();
  meta.append(author, time);
  const text = document.createElement("div");
  text.className = "text";
  text.textContent = message.text;
  item.append(meta, text);
  const list = $("messages");
  list.appendChild(item);
  list.scrollTop = list.scrollHeight;
}

function renderMembers(room) {
  $("members").replaceChildren(...[...room.members].sort().map((user) => {
    const item = document.createElement("li");
    item.textContent = user === me ? `${user} (you)` : user;
    return item;
  }));
}

function renderTyping(room) {
  const now = Date.now();
  const users = [...room.typing].filter(([, until]) => until > now).map(([user]) => user);
  $("typing").textContent = users.length ? `${users.join(", ")} ${users.length > 1 ? "are" : "is"} typing…` : "";
}

function renderRooms() {
  const names = new Set([...knownRooms, ...rooms.keys()]);
  const entry = (name) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = name === current ? "current" : "";
    const label = document.createElement("span");
    label.textContent = name.startsWith("dm.") ? name.slice(3) : `# ${name}`;
    button.append(label);
    const unread = rooms.get(name)?.unread;
    if (unread) {
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.textContent = unread;
      button.append(badge);
    }
    button.onclick = () => join(name);
    item.append(button);
    return item;
  };
  const sorted = [...names].sort();
  $("rooms").replaceChildren(...sorted.filter((n) => !n.startsWith("dm.")).map(entry));
  if ($("directs")) $("directs").replaceChildren(...sorted.filter((n) => n.startsWith("dm.")).map(entry));
}

function showError(text, kind = "error") {
  $("error").className = kind;
  $("error").textContent = text;
  setTimeout(() => { if ($("error").textContent === text) $("error").textContent = ""; }, 6000);
}

function showNotice(text) {
  // From the application (realtime/publish.py): shown, not stored.
  showError(text, "notice");
}

function setStatus(kind, text) {
  $("status").className = `status ${kind}`;
  $("status").textContent = text;
}

function join(name) {
  const room = roomState(name);
  if (room.joined) return show(name);
  current = name;
  send(joinMessage(name, room.lastId || undefined));
}

// What the person does.

$("composer").onsubmit = (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim() || !current) return;
  const clientId = `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  roomState(current).unsent.set(clientId, text);
  send({ type: "message", room: current, text, client_id: clientId });
  $("text").value = "";
};

$("text").oninput = () => {
  if (current && Date.now() - lastTypingSent > TYPING_EVERY_MS) {
    lastTypingSent = Date.now();
    send({ type: "typing", room: current });
  }
};

$("older").onclick = () => {
  const room = roomState(current);
  send({ type: "history", room: current, before: room.oldest, limit: 50 });
};

$("new-room").onsubmit = (event) => {
  event.preventDefault();
  join($("room-name").value.trim());
  $("room-name").value = "";
};

if ($("new-direct")) {
  $("new-direct").onsubmit = (event) => {
    event.preventDefault();
    current = null;
    send({ type: "direct", user: $("direct-user").value.trim() });
    $("direct-user").value = "";
  };
}

if ($("name-form")) {
  const nameButton = $("name-form").querySelector("button");
  $("name").value = me;
  nameButton.textContent = me ? "Rename" : "Chat as guest";
  $("name-form").onsubmit = (event) => {
    event.preventDefault();
    me = $("name").value.trim();
    nameButton.textContent = "Rename";
    localStorage.setItem("chat-name", me);
    stopped = false;
    if (socket) socket.close();
    else connect();
  };
}

connect();
