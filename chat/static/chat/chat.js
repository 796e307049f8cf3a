// The chat page: one WebSocket to /ws/chat/, the protocol of docs/chat-protocol.md.
// A room's history is one sequence of events (messages, and changes to them
// and to the members), each with the room's next id: the page applies each id
// once, in order, asks for what a gap hides, and resumes with "since" and the
// room's epoch after a reconnect. Text goes into the page through textContent
// only, never as HTML.
"use strict";

const app = document.getElementById("app");
const $ = (id) => document.getElementById(id);
const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 4000;
const RECONNECT_MAX_MS = 30000;
const ROOMS_EVERY_MS = 30000; // unread counts of rooms this page has not joined
const READ_AFTER_MS = 400; // a burst of messages is marked read in one "read"
const REACTIONS = ["👍", "🎉", "😄", "❤️", "👀", "✅"];
const signedIn = Boolean(app.dataset.user);

const rooms = new Map(); // name -> room state, for every room joined
const listed = new Map(); // name -> the rooms reply's entry
let socket = null;
let current = null; // the room on screen, or being joined to be
let drawn = null; // the room whose messages the list holds
let attempts = 0; // reconnections since the last successful join
let stopped = false; // the server said not to reconnect
let lastTypingSent = 0;
let readTimer = null;
let me = app.dataset.user || localStorage.getItem("chat-name") || "";

function roomState(name) {
  if (!rooms.has(name)) {
    rooms.set(name, {
      name, lastId: 0, epoch: null, items: new Map(), waiting: new Map(),
      online: new Set(), typing: new Map(), joined: false, repairing: false,
      oldest: null, unsent: new Map(), // client_id -> text, until the server echoes it
      private: false, role: null, muted: false, read: 0, seen: {}, members: null,
      firstUnread: null, // the id the "new messages" line is above
    });
  }
  return rooms.get(name);
}

// The connection.

function connect() {
  if (!me) return setStatus("offline", "pick a name");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = signedIn ? "" : `?name=${encodeURIComponent(me)}`;
  socket = new WebSocket(`${scheme}//${location.host}/ws/chat/${query}`);
  setStatus("connecting", "connecting");
  socket.onopen = () => {
    setStatus("online", "online");
    send({ type: "rooms" });
    for (const room of rooms.values()) {
      room.joined = false;
      send(joinMessage(room));
    }
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

function joinMessage(room) {
  if (!room.lastId) return { type: "join", room: room.name };
  return { type: "join", room: room.name, since: room.lastId, epoch: room.epoch };
}

// What the server sends.

const handlers = {
  joined(message) {
    let room = roomState(message.room);
    if (message.reset) {
      // Another history under the same ids: drop what this page holds of it.
      rooms.delete(room.name);
      room = roomState(message.room);
      showNotice(`The history of ${displayName(room.name)} was reset; showing it afresh.`);
    }
    Object.assign(room, {
      joined: true, epoch: message.epoch, private: message.private, role: message.role,
      muted: message.muted, seen: message.seen || {},
    });
    if (message.read !== null && message.read > room.read) room.read = message.read;
    listed.set(room.name, { ...listed.get(room.name), name: room.name, private: message.private, role: message.role });
    attempts = 0;
    room.online = new Set(message.members);
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
  edit(message) { accept(roomState(message.room), [message], null); },
  delete(message) { accept(roomState(message.room), [message], null); },
  reaction(message) { accept(roomState(message.room), [message], null); },
  member(message) { accept(roomState(message.room), [message], null); },
  history(message) {
    const room = roomState(message.room);
    room.repairing = false;
    accept(room, message.messages, message.last_id);
  },
  presence(message) {
    const room = roomState(message.room);
    message.joined.forEach((user) => room.online.add(user));
    message.left.forEach((user) => room.online.delete(user));
    if (current === room.name) renderOnline(room);
  },
  typing(message) {
    const room = roomState(message.room);
    room.typing.set(message.user, Date.now() + TYPING_SHOWN_MS);
    if (current === room.name) renderTyping(room);
    setTimeout(() => current === room.name && renderTyping(room), TYPING_SHOWN_MS + 50);
  },
  read(message) {
    const room = roomState(message.room);
    if (message.user !== me) {
      // The other person in a direct room: how far they have seen.
      room.seen[message.user] = Math.max(room.seen[message.user] || 0, message.id);
      if (current === room.name) renderSeen(room);
      return;
    }
    if (message.unread === null) return;
    room.read = Math.max(room.read, message.id);
    const entry = listed.get(room.name) || { name: room.name };
    listed.set(room.name, { ...entry, read: message.id, unread: message.unread, mentions: message.mentions });
    renderRooms();
  },
  rooms(message) {
    listed.clear();
    for (const entry of [...message.rooms, ...message.direct]) listed.set(entry.name, entry);
    renderRooms();
    if (!current && rooms.size === 0) join(message.start);
  },
  members(message) {
    const room = roomState(message.room);
    room.members = message.members;
    if (current === room.name) renderMembership(room);
  },
  invited(message) {
    showNotice(`${message.by} added you to ${displayName(message.room)}.`);
    send({ type: "rooms" });
  },
  removed(message) {
    const room = rooms.get(message.room);
    if (room) room.joined = false;
    rooms.delete(message.room);
    listed.delete(message.room);
    const why = { banned: "banned you from", removed: "removed you from", departed: "confirmed you left" }[message.reason];
    showNotice(`${message.by} ${why || "removed you from"} ${displayName(message.room)}.`);
    if (current === message.room) {
      current = drawn = null;
      $("room-title").textContent = "Pick a room";
      $("messages").replaceChildren();
      $("text").disabled = $("send").disabled = true;
      $("membership").hidden = true;
      $("online").replaceChildren();
    }
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

function receive(message) {
  (handlers[message.type] || (() => {}))(message);
}

// Events in order, once each.

function accept(room, events, lastId) {
  let older = false;
  for (const event of events) {
    if (event.id <= room.lastId) {
      // Older history: its messages go above what is there; its changes are
      // already in the messages' state.
      if (!room.items.has(event.id) && shownInList(event)) {
        room.items.set(event.id, event);
        older = true;
      }
    } else {
      room.waiting.set(event.id, event);
    }
  }
  if (room.lastId === 0 && room.waiting.size && !room.items.size) {
    // A first join without "since": the newest page starts wherever it starts.
    room.lastId = Math.min(...room.waiting.keys()) - 1;
    room.oldest = room.lastId + 1;
  }
  while (room.waiting.has(room.lastId + 1)) {
    const next = room.waiting.get(room.lastId + 1);
    room.waiting.delete(next.id);
    room.lastId = next.id;
    apply(room, next);
  }
  if (lastId !== null && lastId > room.lastId && room.oldest === null && !room.items.size) {
    room.lastId = lastId;
  }
  const highest = Math.max(lastId ?? 0, ...room.waiting.keys());
  if (highest > room.lastId && !room.repairing && room.joined) {
    // A gap: ask for what it hides.
    room.repairing = true;
    send({ type: "history", room: room.name, after: room.lastId });
  }
  if (older && current === room.name) show(room.name);
  if (room.oldest === null || older) room.oldest = Math.min(...room.items.keys(), room.lastId + 1);
  if (current === room.name) {
    $("older").hidden = !(room.oldest > 1);
    markReadSoon();
  }
  renderRooms();
}

function shownInList(event) {
  return event.type === "message" || event.type === "member";
}

function apply(room, event) {
  // Each change sets a value, so one the message already reflects changes nothing.
  const target = room.items.get(event.target);
  if (event.type === "message" || event.type === "member") {
    room.items.set(event.id, event);
    if (event.type === "message" && event.author !== me && event.id > room.read) countUnread(room, event);
    if (event.type === "member") applyMember(room, event);
    if (current === room.name) appendItem(room, event);
    return;
  }
  if (!target) return; // a change to a message older than this page holds
  if (event.type === "edit") Object.assign(target, { text: event.text, edited: true });
  if (event.type === "delete") Object.assign(target, { text: "", deleted: true, edited: false, reactions: {} });
  if (event.type === "reaction") {
    const reactions = { ...target.reactions };
    if (event.users.length) reactions[event.emoji] = event.users;
    else delete reactions[event.emoji];
    target.reactions = reactions;
  }
  if (current === room.name) rerender(room, target);
}

function countUnread(room, event) {
  if (current === room.name && document.visibilityState === "visible") return;
  const entry = listed.get(room.name) || { name: room.name, unread: 0, mentions: 0 };
  const mentioned = new RegExp(`(^|[^\\w.@])@${me.replace(/[.]/g, "\\.")}(?![\\w-])`).test(event.text);
  listed.set(room.name, {
    ...entry, unread: (entry.unread || 0) + 1, mentions: (entry.mentions || 0) + (mentioned ? 1 : 0),
  });
}

function applyMember(room, event) {
  if (event.user === me) {
    if (event.action === "muted") room.muted = true;
    if (event.action === "unmuted") room.muted = false;
    if (event.action === "role") room.role = event.role;
    // Out of the room from here on: nothing more to mark read in it (the
    // server's "removed" follows, and a read now would only earn not_joined).
    if (["banned", "removed", "departed"].includes(event.action)) room.joined = false;
  }
  if (["banned", "removed", "departed"].includes(event.action)) room.typing.delete(event.user);
  if (current === room.name) {
    renderComposer(room);
    renderOnline(room);
    if (event.user === me) showMembership(room);
    else if (room.members) send({ type: "members", room: room.name });
  }
}

// Reading: the room on screen is read as it shows; every tab hears of it.

function markReadSoon() {
  if (!signedIn || document.visibilityState !== "visible" || readTimer) return;
  readTimer = setTimeout(() => {
    readTimer = null;
    const room = rooms.get(current);
    if (room && room.joined && room.lastId > room.read) send({ type: "read", room: room.name, id: room.lastId });
  }, READ_AFTER_MS);
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  send({ type: "rooms" });
  markReadSoon();
});
setInterval(() => send({ type: "rooms" }), ROOMS_EVERY_MS);

// The page.

function displayName(name) {
  return name.startsWith("dm.") ? name.slice(3).split(".").filter((n) => n !== me).join(", ") || name.slice(3) : `# ${name}`;
}

function show(name) {
  const switching = drawn !== name;
  current = drawn = name;
  const room = roomState(name);
  if (switching) {
    const entry = listed.get(name);
    room.firstUnread = entry && entry.unread ? firstUnreadAfter(room, entry.read ?? room.read) : null;
  }
  $("room-title").textContent = displayName(name);
  const badges = [];
  if (room.private && !name.startsWith("dm.")) badges.push("private");
  if (room.role && room.role !== "member") badges.push(room.role);
  $("room-badges").replaceChildren(...badges.map((text) => {
    const badge = document.createElement("span");
    badge.className = `badge ${text}`;
    badge.textContent = text;
    return badge;
  }));
  const list = $("messages");
  list.replaceChildren();
  [...room.items.keys()].sort((a, b) => a - b).forEach((id) => appendItem(room, room.items.get(id), false));
  list.scrollTop = list.scrollHeight;
  $("older").hidden = !(room.oldest > 1);
  renderComposer(room);
  renderOnline(room);
  renderTyping(room);
  renderSeen(room);
  showMembership(room);
  renderRooms();
  markReadSoon();
}

function firstUnreadAfter(room, read) {
  const ids = [...room.items.values()].filter((e) => e.type === "message" && e.id > read && e.author !== me).map((e) => e.id);
  return ids.length ? Math.min(...ids) : null;
}

function renderComposer(room) {
  const blocked = room.muted || !room.joined;
  $("text").disabled = $("send").disabled = blocked;
  $("muted-note").hidden = !room.muted;
}

function appendItem(room, event, scroll = true) {
  const list = $("messages");
  if (event.id === room.firstUnread) {
    const line = document.createElement("li");
    line.className = "new-line";
    line.setAttribute("role", "separator");
    line.textContent = "New messages";
    list.appendChild(line);
  }
  const item = event.type === "member" ? memberLine(event) : messageItem(room, event);
  // Older history goes above what is shown, in id order.
  const after = [...list.querySelectorAll("li[data-id]")].find((li) => Number(li.dataset.id) > event.id);
  list.insertBefore(item, after || null);
  if (scroll && !after) list.scrollTop = list.scrollHeight;
}

function memberLine(event) {
  const item = document.createElement("li");
  item.className = "system";
  item.dataset.id = event.id;
  const words = {
    invited: `${event.by} added ${event.user}`, removed: `${event.by} removed ${event.user}`,
    departed: `${event.user} left the room`, banned: `${event.by} banned ${event.user}`,
    unbanned: `${event.by} lifted the ban on ${event.user}`, muted: `${event.by} muted ${event.user}`,
    unmuted: `${event.by} unmuted ${event.user}`, role: `${event.by} made ${event.user} ${event.role}`,
  };
  item.textContent = words[event.action] || `${event.by} ${event.action} ${event.user}`;
  return item;
}

function messageItem(room, message) {
  const item = document.createElement("li");
  item.dataset.id = message.id;
  item.tabIndex = 0;
  item.className = message.author === me ? "mine" : "";
  fillMessage(room, item, message);
  return item;
}

function rerender(room, message) {
  const item = $("messages").querySelector(`li[data-id="${message.id}"]`);
  if (item) fillMessage(room, item, message);
  renderSeen(room);
}

function fillMessage(room, item, message) {
  const editing = item.querySelector(".edit-form");
  if (editing && !message.deleted) return; // the author is typing over it
  item.replaceChildren();
  item.classList.toggle("deleted", message.deleted);
  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = message.author;
  const time = document.createElement("time");
  time.dateTime = message.ts;
  time.textContent = new Date(message.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.append(author, time);
  if (message.edited) meta.append(tag("edited", "edited"));
  const text = document.createElement("div");
  text.className = "text";
  if (message.deleted) text.textContent = "This message was deleted.";
  else text.append(...withMentions(message.text));
  item.append(meta, text);
  if (!message.deleted) {
    item.append(reactionsRow(room, message));
    item.append(messageActions(room, message));
  }
}

function tag(className, text) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}

function withMentions(text) {
  // "@name" stands out; everything stays text.
  return text.split(/((?:^|(?<=[^\w.@]))@[A-Za-z0-9_.-]{1,30})/).filter(Boolean).map((part) => {
    if (!part.startsWith("@")) return document.createTextNode(part);
    return tag(part.slice(1) === me ? "mention me" : "mention", part);
  });
}

function reactionsRow(room, message) {
  const row = document.createElement("div");
  row.className = "reactions";
  for (const [emoji, users] of Object.entries(message.reactions || {})) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip";
    chip.setAttribute("aria-pressed", String(users.includes(me)));
    chip.title = users.join(", ");
    chip.setAttribute("aria-label", `${emoji} ${users.length}: ${users.join(", ")}`);
    chip.textContent = `${emoji} ${users.length}`;
    chip.onclick = () => send({ type: "react", room: room.name, id: message.id, emoji });
    row.append(chip);
  }
  return row;
}

function messageActions(room, message) {
  const actions = document.createElement("div");
  actions.className = "actions";
  const button = (label, onclick, className = "") => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `tool ${className}`;
    b.textContent = label;
    b.onclick = onclick;
    actions.append(b);
    return b;
  };
  if (!room.muted) {
    const react = button("React", () => picker.hidden = !picker.hidden);
    react.setAttribute("aria-label", `React to message ${message.id}`);
    const picker = document.createElement("span");
    picker.className = "picker";
    picker.hidden = true;
    for (const emoji of REACTIONS) {
      const choice = document.createElement("button");
      choice.type = "button";
      choice.className = "tool";
      choice.textContent = emoji;
      choice.setAttribute("aria-label", `React ${emoji}`);
      choice.onclick = () => { picker.hidden = true; send({ type: "react", room: room.name, id: message.id, emoji }); };
      picker.append(choice);
    }
    actions.append(picker);
  }
  const mine = message.author === me;
  if (mine && !room.muted) button("Edit", () => startEditing(room, message));
  if (mine || moderator(room)) {
    button("Delete", () => {
      if (confirm(mine ? "Delete this message?" : `Delete ${message.author}'s message?`)) {
        send({ type: "delete", room: room.name, id: message.id });
      }
    }, "danger");
  }
  return actions;
}

function moderator(room) {
  return room.role === "owner" || room.role === "moderator";
}

function startEditing(room, message) {
  const item = $("messages").querySelector(`li[data-id="${message.id}"]`);
  const form = document.createElement("form");
  form.className = "edit-form";
  const input = document.createElement("input");
  input.value = message.text;
  input.setAttribute("aria-label", "Edit message");
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Save";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "quiet";
  cancel.textContent = "Cancel";
  form.append(input, save, cancel);
  const done = () => { form.remove(); fillMessage(room, item, room.items.get(message.id)); item.focus(); };
  form.onsubmit = (event) => {
    event.preventDefault();
    const text = input.value;
    if (text.trim() && text !== message.text) send({ type: "edit", room: room.name, id: message.id, text });
    done();
  };
  cancel.onclick = done;
  input.onkeydown = (event) => { if (event.key === "Escape") done(); };
  item.querySelector(".text").replaceChildren(form);
  input.focus();
}

function renderSeen(room) {
  $("messages").querySelectorAll(".seen").forEach((mark) => mark.remove());
  if (!room.name.startsWith("dm.") || current !== room.name) return;
  for (const [user, upTo] of Object.entries(room.seen)) {
    const mine = [...room.items.values()].filter((e) => e.type === "message" && e.author === me && e.id <= upTo);
    if (!mine.length) continue;
    const last = Math.max(...mine.map((e) => e.id));
    const item = $("messages").querySelector(`li[data-id="${last}"] .meta`);
    if (item) item.append(tag("seen", `Seen by ${user}`));
  }
}

function renderOnline(room) {
  const tools = moderator(room) && !room.private;
  $("online").replaceChildren(...[...room.online].sort().map((user) => {
    const item = document.createElement("li");
    item.append(tag("name", user === me ? `${user} (you)` : user));
    // In a public room a moderator acts on whoever is there.
    if (tools && user !== me) item.append(memberTools(room, { user, role: "member", muted: false }));
    return item;
  }));
}

function memberTools(room, member) {
  const tools = document.createElement("span");
  tools.className = "member-tools";
  const act = (label, type, extra = {}) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "tool";
    b.textContent = label;
    b.setAttribute("aria-label", `${label} ${member.user}`);
    b.onclick = () => send({ type, room: room.name, user: member.user, ...extra });
    tools.append(b);
  };
  if (member.banned) {
    act("Unban", "unban");
    return tools;
  }
  act(member.muted ? "Unmute" : "Mute", member.muted ? "unmute" : "mute");
  if (room.role === "owner") {
    const mod = member.role === "moderator";
    act(mod ? "Make member" : "Make moderator", "role", { role: mod ? "member" : "moderator" });
  }
  if (room.private) act("Remove", "remove");
  act("Ban", "ban");
  return tools;
}

function showMembership(room) {
  // Private rooms list their members; public ones, to moderators, who has a
  // role or a mark (moderators, muted and banned users).
  const direct = room.name.startsWith("dm.");
  $("membership").hidden = direct || !(room.private || moderator(room));
  $("membership-heading").textContent = room.private ? "Members" : "Roles and marks";
  if (!$("membership").hidden) send({ type: "members", room: room.name });
  else room.members = null;
  renderMembership(room);
}

function renderMembership(room) {
  const list = $("member-list");
  const canModerate = moderator(room);
  $("invite").hidden = !canModerate || !room.private;
  $("depart").hidden = !room.private || room.role === "owner";
  if (!room.members) return list.replaceChildren();
  list.replaceChildren(...room.members.map((member) => {
    const item = document.createElement("li");
    item.append(tag("name", member.user));
    if (member.role !== "member") item.append(tag(`badge ${member.role}`, member.role));
    if (member.muted) item.append(tag("badge muted", "muted"));
    if (member.banned) item.append(tag("badge banned", "banned"));
    if (canModerate && member.user !== me && member.role !== "owner") item.append(memberTools(room, member));
    return item;
  }));
}

function renderTyping(room) {
  const now = Date.now();
  const users = [...room.typing].filter(([, until]) => until > now).map(([user]) => user);
  $("typing").textContent = users.length ? `${users.join(", ")} ${users.length > 1 ? "are" : "is"} typing…` : "";
}

function renderRooms() {
  const names = new Set([...listed.keys(), ...rooms.keys()]);
  const entry = (name) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = name === current ? "current" : "";
    if (name === current) button.setAttribute("aria-current", "true");
    const info = listed.get(name) || {};
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = displayName(name);
    if (info.private && !name.startsWith("dm.")) label.append(tag("lock", " · private"));
    button.append(label);
    const unread = name === current ? 0 : info.unread || 0;
    const cap = unread >= 100 ? "100+" : String(unread);
    if (info.mentions && name !== current) {
      button.append(tag("mentions", `@${info.mentions}`));
      button.classList.add("has-unread");
    }
    if (unread) {
      button.append(tag("unread", cap));
      button.classList.add("has-unread");
    }
    button.setAttribute("aria-label", `${displayName(name)}${unread ? `, ${cap} unread` : ""}${info.mentions && name !== current ? `, ${info.mentions} mentions` : ""}`);
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
  // From the application (realtime/publish.py) or about this user: shown, not stored.
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
  send(joinMessage(room));
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

$("text").onkeydown = (event) => {
  // Arrow up in an empty box edits your last message, as in Slack.
  if (event.key !== "ArrowUp" || $("text").value || !current) return;
  const room = roomState(current);
  const mine = [...room.items.values()].filter((e) => e.type === "message" && e.author === me && !e.deleted);
  if (!mine.length) return;
  event.preventDefault();
  startEditing(room, mine.reduce((a, b) => (a.id > b.id ? a : b)));
};

$("older").onclick = () => {
  const room = roomState(current);
  send({ type: "history", room: current, before: room.oldest, limit: 50 });
};

$("new-room").onsubmit = (event) => {
  event.preventDefault();
  const name = $("room-name").value.trim();
  if ($("room-private") && $("room-private").checked) {
    current = name;
    send({ type: "create", room: name, private: true });
    $("room-private").checked = false;
  } else {
    join(name);
  }
  $("room-name").value = "";
};

$("invite").onsubmit = (event) => {
  event.preventDefault();
  send({ type: "invite", room: current, user: $("invite-user").value.trim() });
  $("invite-user").value = "";
};

$("depart").onclick = () => {
  if (confirm(`Leave ${displayName(current)}? You will need an invitation to come back.`)) {
    send({ type: "depart", room: current });
  }
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
