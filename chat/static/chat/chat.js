// The chat page: what the chat client library (clients/js/src/chat-client.js)
// holds, drawn, and what the person does, handed to it. The library owns the
// connection and every rule of docs/chat-protocol.md (resume, gap repair,
// resending, reconnecting); this file only draws and listens. Text goes into
// the page through textContent only; the one HTML it inserts is a message's
// html, which the server rendered and sanitised (chat/formatting.py).
import { ChatClient, DEGRADED, OPEN, RETRYING, STOPPED, uploadFile } from "../clients/chat-client.js";
import { HttpFallbackSocket } from "../clients/http-fallback.js";

const app = document.getElementById("app");
const $ = (id) => document.getElementById(id);
const TYPING_SHOWN_MS = 4000;
const ROOMS_EVERY_MS = 30000; // unread counts of rooms this page has not joined
const READ_AFTER_MS = 400; // a burst of messages is marked read in one "read"
// WebSockets in a row that fail to open before the page goes over HTTP.
const FALLBACK_AFTER = 2;
const REACTIONS = ["👍", "🎉", "😄", "❤️", "👀", "✅"];
const signedIn = Boolean(app.dataset.user);
const MAX_UPLOAD = Number(app.dataset.maxUpload);

let me = app.dataset.user || localStorage.getItem("chat-name") || "";
let current = null; // the room on screen, or being joined to be
let drawn = null; // the room whose messages the list holds
let readTimer = null;
let panel = null; // what the side panel shows: { kind: "thread", room, root } or { kind: "search", query, next }
const firstUnread = new Map(); // room name -> the id the "new messages" line is above
// Files picked for the next message: each { id (once uploaded), name, room, item, done }.
const attachments = [];

const client = new ChatClient(() => {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = signedIn ? "" : `?name=${encodeURIComponent(me)}`;
  return `${scheme}//${location.host}/ws/chat/${query}`;
}, { user: me, fallback: { after: FALLBACK_AFTER, Socket: HttpFallbackSocket } });
const rooms = client.rooms;
const listed = client.listing;
client.on("room", watch);

// What the library says.

client.on("state", ({ state, code, reason }) => {
  $("status").dataset.transport = client.transport || "";
  if (state === OPEN) setStatus("online", "online");
  if (state === DEGRADED) setStatus("degraded", "online, delayed");
  if (state === RETRYING) setStatus("offline", `offline (${code})`);
  if (state === STOPPED && reason === "invalid_name") {
    setStatus("offline", `offline (${code})`);
    showError("Choose another name: that one is taken or invalid.");
    localStorage.removeItem("chat-name");
  }
  if (state === STOPPED && reason === "signed_out") {
    // Signed out elsewhere: this page's identity is gone; it stays so.
    setStatus("offline", "signed out");
    $("text").disabled = true;
    $("send").disabled = true;
    $("error").className = "error";
    $("error").textContent = "You were signed out. Reload the page to log in again.";
  }
  if (state === "connecting") setStatus("connecting", "connecting");
});

client.on("rooms", () => {
  renderRooms();
  if (linked) {
    goTo(linked);
    linked = null;
  } else if (!current && rooms.size === 0 && client.start) {
    join(client.start);
  }
});

// A link to a message (the away emails': /chat/#room=NAME&id=ID&thread=ROOT),
// followed once the first rooms reply is in.
let linked = fromHash(location.hash);
window.addEventListener("hashchange", () => {
  const target = fromHash(location.hash);
  if (target && client.state === OPEN) goTo(target);
});

function fromHash(hash) {
  const fields = new URLSearchParams(hash.slice(1));
  const id = Number(fields.get("id"));
  if (!fields.get("room") || !id) return null;
  return { room: fields.get("room"), id, reply_to: Number(fields.get("thread")) || null };
}

if ($("email-away")) {
  client.on("state", ({ state }) => {
    if (state !== OPEN) return;
    client.notifications().then((reply) => {
      $("email-away").checked = reply.email;
      $("email-away").disabled = false;
    }, refused);
  });
  $("email-away").onchange = () => {
    const chosen = $("email-away").checked;
    client.notifications(chosen).catch((error) => {
      $("email-away").checked = !chosen; // as the server still has it
      refused(error);
    });
  };
}
client.on("notice", (notice) => showNotice(notice.text));
client.on("error", (error) => showError(`${error.code}: ${error.detail}`));
client.on("invited", (message) => showNotice(`${message.by} added you to ${displayName(message.room)}.`));
client.on("removed", (message) => {
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
});

function watch(room) {
  // Every room, from the moment the library makes it.
  const onScreen = () => current === room.name;
  room.on("joined", () => {
    if (!current || onScreen()) show(room.name);
    renderRooms();
  });
  room.on("reset", () => {
    showNotice(`The history of ${displayName(room.name)} was reset; showing it afresh.`);
    if (onScreen()) drawn = null;
  });
  room.on("event", (event) => {
    if (event.type === "member") memberChanged(room, event);
    if (inThread(room, event)) appendThreadItem(room, event);
    if (onScreen()) {
      if (!event.reply_to) appendItem(room, event);
      markReadSoon();
    }
  });
  room.on("change", ({ message }) => {
    if (inThread(room, message)) rerenderThread(room, message);
    if (onScreen()) rerender(room, message);
  });
  room.on("older", () => onScreen() && show(room.name));
  room.on("presence", () => onScreen() && renderOnline(room));
  room.on("typing", () => {
    if (!onScreen()) return;
    renderTyping(room);
    setTimeout(() => onScreen() && renderTyping(room), TYPING_SHOWN_MS + 50);
  });
  room.on("members", () => onScreen() && renderMembership(room));
  room.on("seen", () => onScreen() && renderSeen(room));
}

function memberChanged(room, event) {
  if (current !== room.name) return;
  renderComposer(room);
  renderAttachments();
  renderOnline(room);
  if (event.user === me) showMembership(room);
  else if (room.members) room.loadMembers().catch(() => {});
}

// Reading: the room on screen is read as it shows; every tab hears of it.

function markReadSoon() {
  if (!signedIn || document.visibilityState !== "visible" || readTimer) return;
  readTimer = setTimeout(() => {
    readTimer = null;
    const room = rooms.get(current);
    if (room && room.joined && room.lastId > room.read) room.markRead().catch(() => {});
  }, READ_AFTER_MS);
}

function refreshRooms() {
  client.refreshRooms().catch(() => {});
}

function looking() {
  client.viewing = document.visibilityState === "visible" ? current : null;
}

document.addEventListener("visibilitychange", () => {
  looking();
  if (document.visibilityState !== "visible") return;
  refreshRooms();
  markReadSoon();
});
setInterval(refreshRooms, ROOMS_EVERY_MS);

/** What a refused request tells the person. */
function refused(error) {
  showError(`${error.code}: ${error.detail}`);
}

// The page.

function displayName(name) {
  return name.startsWith("dm.") ? name.slice(3).split(".").filter((n) => n !== me).join(", ") || name.slice(3) : `# ${name}`;
}

function show(name) {
  const switching = drawn !== name;
  current = drawn = name;
  looking();
  const room = client.room(name);
  if (switching) {
    const entry = listed.get(name);
    firstUnread.set(name, entry && entry.unread ? firstUnreadAfter(room, entry.read ?? room.read) : null);
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
  room.list().filter((item) => !item.reply_to).forEach((item) => appendItem(room, item, false));
  if (!reveal(room)) list.scrollTop = list.scrollHeight;
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
  if (event.id === firstUnread.get(room.name)) {
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
  // To the newest, unless a message asked for is being shown.
  if (scroll && !after && focus?.room !== room.name) list.scrollTop = list.scrollHeight;
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
  else if (message.html) formatted(text, message.html);
  else text.append(...withMentions(message.text));
  item.append(meta, text);
  if (message.files?.length) item.append(filesOf(message));
  if (message.thread && !message.reply_to) {
    item.append(threadSummary(room, message));
  }
  if (!message.deleted) {
    item.append(reactionsRow(room, message));
    item.append(messageActions(room, message));
  }
}

function filesOf(message) {
  // Images as their thumbnails, linked to the whole; other files as downloads.
  const box = document.createElement("div");
  box.className = "files";
  for (const file of message.files) {
    const link = document.createElement("a");
    link.href = file.url;
    if (file.thumbnail) {
      link.className = "image";
      link.target = "_blank";
      link.rel = "noopener";
      const image = document.createElement("img");
      image.src = file.thumbnail;
      image.alt = file.name;
      image.loading = "lazy";
      const scale = Math.min(1, 200 / Math.max(file.width, file.height));
      image.width = Math.round(file.width * scale);
      image.height = Math.round(file.height * scale);
      link.append(image);
    } else {
      link.className = "file";
      link.download = file.name;
      const kind = file.type === "application/pdf" ? "pdf" : "txt";
      link.append(tag(`kind ${kind}`, kind.toUpperCase()), tag("name", file.name), tag("size", bytes(file.size)));
    }
    box.append(link);
  }
  return box;
}

function bytes(size) {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(0)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

function threadSummary(room, message) {
  const { replies, latest } = message.thread;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "thread-summary";
  const last = latest[latest.length - 1];
  button.append(tag("count", `${replies} ${replies === 1 ? "reply" : "replies"}`));
  if (last) button.append(tag("latest", `${last.author}: ${plainText(last.text)}`));
  button.onclick = () => openThread(room, message.id);
  return button;
}

// A reply's Markdown source as one line of plain text, for its thread's
// summary: the summary carries the source only, and shows no formatting.
function plainText(source) {
  return source
    .replace(/\[([^\]\n]+)\]\([^)\s]+\)/g, "$1")
    .replace(/`([^`\n]+)`/g, "$1")
    .replace(/(\*\*|~~)(?=\S)(.+?)(?<=\S)\1/g, "$2")
    .replace(/(^|\W)__(?=\S)(.+?)(?<=\S)__(?!\w)/g, "$1$2")
    .replace(/\*(?=\S)(.+?)(?<=\S)\*/g, "$1")
    .replace(/(^|\W)_(?=\S)(.+?)(?<=\S)_(?!\w)/g, "$1$2")
    .replace(/^\s*(?:>|#{1,6}|[-*+]|\d+\.)\s+/gm, "")
    .replace(/\s+/g, " ")
    .trim();
}

function tag(className, text) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}

function formatted(into, html) {
  // The server's sanitised HTML (chat/formatting.py), the only HTML this page
  // inserts; the CSP would stop a script in it all the same.
  into.classList.add("formatted");
  into.innerHTML = html;
  for (const mention of into.querySelectorAll(".mention")) {
    if (mention.dataset.user === me) mention.classList.add("me");
  }
  for (const link of into.querySelectorAll("a.room")) {
    link.onclick = (event) => {
      event.preventDefault();
      join(link.getAttribute("href").split("#")[1]);
    };
  }
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
    chip.onclick = () => room.react(message.id, emoji).catch(refused);
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
      choice.onclick = () => { picker.hidden = true; room.react(message.id, emoji).catch(refused); };
      picker.append(choice);
    }
    actions.append(picker);
  }
  if (!message.reply_to && !room.muted) button("Reply", () => openThread(room, message.id));
  const mine = message.author === me;
  if (mine && !room.muted) button("Edit", () => startEditing(room, message));
  if (mine || moderator(room)) {
    button("Delete", () => {
      if (confirm(mine ? "Delete this message?" : `Delete ${message.author}'s message?`)) {
        room.delete(message.id).catch(refused);
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
    if (text.trim() && text !== message.text) room.edit(message.id, text).catch(refused);
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
    b.onclick = () => room.client.request(type, { room: room.name, user: member.user, ...extra }).catch(refused);
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
  if (!$("membership").hidden) room.loadMembers().catch(() => {});
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
  const users = room.typists(TYPING_SHOWN_MS);
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
  $("status").title = client.transport === "http" ? "Connected over HTTP: this network blocks WebSocket" : "";
}

function join(name) {
  const room = client.room(name);
  if (room.joined) return show(name);
  current = name;
  looking(); // what the join brings is on screen: not unread
  client.join(name).catch(refused);
}

// The side panel: a thread, or search results.

function inThread(room, message) {
  return panel?.kind === "thread" && panel.room === room.name
    && (message.id === panel.root || message.reply_to === panel.root);
}

function openPanel(kind, title) {
  $("panel").hidden = false;
  $("panel-title").textContent = title;
  $("thread-messages").hidden = kind !== "thread";
  $("thread-composer").hidden = kind !== "thread";
  $("search-results").hidden = kind !== "search";
  $("panel-more").hidden = true;
}

async function openThread(room, root) {
  panel = { kind: "thread", room: room.name, root };
  openPanel("thread", "Thread");
  $("thread-messages").replaceChildren();
  $("thread-text").disabled = room.muted;
  await loadThread(room, root, null);
  $("thread-text").focus();
}

async function loadThread(room, root, after) {
  const reply = await room.thread(root, { after }).catch(refused);
  if (!reply || !inThread(room, { id: root })) return;
  const list = $("thread-messages");
  list.replaceChildren();
  const rootItem = room.items.get(root) || reply.root;
  list.append(messageItem(room, rootItem));
  room.replies(root).forEach((message) => list.append(messageItem(room, message)));
  $("panel-more").hidden = !reply.more;
  $("panel-more").onclick = () => loadThread(room, root, reply.replies.at(-1)?.id ?? null);
  list.scrollTop = list.scrollHeight;
}

function appendThreadItem(room, message) {
  if (message.id === panel.root) return rerenderThread(room, message);
  const list = $("thread-messages");
  const after = [...list.children].slice(1).find((li) => Number(li.dataset.id) > message.id);
  list.insertBefore(messageItem(room, message), after || null);
  if (!after) list.scrollTop = list.scrollHeight;
}

function rerenderThread(room, message) {
  const item = $("thread-messages").querySelector(`li[data-id="${message.id}"]`);
  if (item) fillMessage(room, item, message);
}

async function search(query, cursor = null) {
  if (cursor === null) {
    panel = { kind: "search", query };
    openPanel("search", `Search: ${query}`);
    $("search-results").replaceChildren();
  }
  const reply = await client.search(query, { cursor }).catch(refused);
  if (!reply || panel?.kind !== "search" || panel.query !== query) return;
  for (const result of reply.results) $("search-results").append(resultItem(result));
  if (!reply.results.length && cursor === null) {
    const none = document.createElement("li");
    none.className = "empty";
    none.textContent = "Nothing found in the rooms you can read.";
    $("search-results").append(none);
  }
  $("panel-more").hidden = reply.next === null;
  $("panel-more").onclick = () => search(query, reply.next);
}

function resultItem(result) {
  const item = document.createElement("li");
  item.tabIndex = 0;
  const where = document.createElement("div");
  where.className = "where";
  const author = document.createElement("strong");
  author.textContent = result.author;
  const when = new Date(result.ts).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  where.append(author, ` in ${displayName(result.room)} · ${when}${result.reply_to ? " · in a thread" : ""}`);
  const text = document.createElement("div");
  text.className = "text";
  // The server escaped the text and marked the matches (chat/search.py).
  text.innerHTML = result.highlight;
  item.append(where, text);
  item.onclick = () => goTo(result);
  item.onkeydown = (event) => event.key === "Enter" && goTo(result);
  return item;
}

async function goTo(result) {
  const wanted = { room: result.room, id: result.id };
  focus = wanted;
  join(result.room);
  const room = client.room(result.room);
  if (!room.joined) {
    await new Promise((resolve) => {
      const stop = room.on("joined", () => { stop(); resolve(); });
    });
  }
  if (result.reply_to) {
    focus = null;
    return openThread(room, result.reply_to);
  }
  // Older than what the join brought: page back to it.
  while (room.oldest > result.id && room.oldest > 1) {
    const before = room.oldest;
    await room.loadOlder(Math.min(100, room.oldest - result.id)).catch(refused);
    if (room.oldest === before) break;
  }
  // Drawn now, and again if the room is drawn in the next moments.
  focus = wanted;
  reveal(room);
  setTimeout(() => focus === wanted && (focus = null), FOCUS_MS);
}

// A message to show instead of the newest, whenever the room is drawn
// in the next moments (a search result's, or a link's).
let focus = null;
const FOCUS_MS = 2500;

function reveal(room) {
  if (focus?.room !== room.name) return false;
  const item = $("messages").querySelector(`li[data-id="${focus.id}"]`);
  if (!item) return false;
  item.classList.add("found");
  // The list alone scrolls (scrollIntoView would move the page too, when
  // the message is too near an end of the list to be centred in it).
  const list = $("messages");
  const above = item.getBoundingClientRect().top - list.getBoundingClientRect().top;
  list.scrollTop += above - (list.clientHeight - item.offsetHeight) / 2;
  setTimeout(() => item.classList.remove("found"), FOCUS_MS);
  return true;
}

$("panel-close").onclick = () => {
  panel = null;
  $("panel").hidden = true;
};

$("search").onsubmit = (event) => {
  event.preventDefault();
  const query = $("search-query").value.trim();
  if (query) search(query);
};

$("thread-composer").onsubmit = (event) => {
  event.preventDefault();
  const text = $("thread-text").value;
  if (!text.trim() || panel?.kind !== "thread") return;
  rooms.get(panel.room)?.send(text, { replyTo: panel.root }).catch(refused);
  $("thread-text").value = "";
};

// What the person does.

$("composer").onsubmit = (event) => {
  event.preventDefault();
  const text = $("text").value;
  const ready = attachments.filter((a) => a.room === current && a.id);
  if ((!text.trim() && !ready.length) || !current) return;
  if (attachments.some((a) => a.room === current && !a.done)) {
    showError("Wait for the files to finish uploading.");
    return;
  }
  // Kept and sent again by the library until the server says it is stored.
  rooms.get(current)?.send(text, { files: ready.map((a) => a.id) }).catch(refused);
  for (const sent of ready) dropAttachment(sent);
  $("text").value = "";
};

// Files: picked, dropped or pasted, each uploaded at once with its progress,
// and named by the next message sent.

function csrfToken() {
  const found = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return found ? found.slice("csrftoken=".length) : "";
}

function attach(files) {
  if (!signedIn) return showError("Log in to send files.");
  if (!current) return;
  for (const file of files) {
    const entry = { id: null, name: file.name || "pasted image", room: current, done: false };
    entry.item = attachmentItem(entry);
    attachments.push(entry);
    if (file.size > MAX_UPLOAD) {
      failed(entry, `larger than ${bytes(MAX_UPLOAD)}`);
      continue;
    }
    uploadFile(current, file, {
      csrfToken: csrfToken(),
      name: entry.name,
      onProgress: (sent, total) => entry.item.querySelector("progress").value = total ? sent / total : 0,
    }).then((stored) => {
      entry.id = stored.id;
      entry.done = true;
      entry.item.classList.add("done");
      entry.item.querySelector("progress").value = 1;
    }, (error) => failed(entry, error.detail || error.message));
  }
  renderAttachments();
}

function attachmentItem(entry) {
  const item = document.createElement("li");
  item.className = "attachment";
  const progress = document.createElement("progress");
  progress.max = 1;
  progress.value = 0;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "tool";
  remove.textContent = "✕";
  remove.setAttribute("aria-label", `Remove ${entry.name}`);
  remove.onclick = () => dropAttachment(entry);
  item.append(tag("name", entry.name), progress, remove);
  return item;
}

function failed(entry, why) {
  entry.done = true;
  entry.item.classList.add("failed");
  entry.item.querySelector("progress").remove();
  entry.item.insertBefore(tag("why", why), entry.item.lastChild);
}

function dropAttachment(entry) {
  attachments.splice(attachments.indexOf(entry), 1);
  renderAttachments();
}

function renderAttachments() {
  const shown = attachments.filter((a) => a.room === current);
  $("attachments").replaceChildren(...shown.map((a) => a.item));
  $("attachments").hidden = !shown.length;
}

if ($("file-input")) {
  $("file-input").onchange = () => {
    attach([...$("file-input").files]);
    $("file-input").value = "";
  };
}

$("text").addEventListener("paste", (event) => {
  const pasted = [...(event.clipboardData?.files || [])];
  if (!pasted.length) return;
  event.preventDefault();
  attach(pasted);
});

const main = document.querySelector("main");
main.addEventListener("dragover", (event) => {
  if (!signedIn || !current || !event.dataTransfer?.types.includes("Files")) return;
  event.preventDefault();
  $("drop-hint").hidden = false;
});
main.addEventListener("dragleave", (event) => {
  if (!main.contains(event.relatedTarget)) $("drop-hint").hidden = true;
});
main.addEventListener("drop", (event) => {
  $("drop-hint").hidden = true;
  if (!event.dataTransfer?.files.length) return;
  event.preventDefault();
  attach([...event.dataTransfer.files]);
});

$("text").oninput = () => rooms.get(current)?.typed();

$("text").onkeydown = (event) => {
  // Arrow up in an empty box edits your last message, as in Slack.
  if (event.key !== "ArrowUp" || $("text").value || !current) return;
  const room = rooms.get(current);
  if (!room) return;
  const mine = [...room.items.values()].filter((e) => e.type === "message" && e.author === me && !e.deleted);
  if (!mine.length) return;
  event.preventDefault();
  startEditing(room, mine.reduce((a, b) => (a.id > b.id ? a : b)));
};

$("older").onclick = () => rooms.get(current)?.loadOlder(50).catch(refused);

$("new-room").onsubmit = (event) => {
  event.preventDefault();
  const name = $("room-name").value.trim();
  if ($("room-private") && $("room-private").checked) {
    current = name;
    client.create(name, { private: true }).catch(refused);
    $("room-private").checked = false;
  } else {
    join(name);
  }
  $("room-name").value = "";
};

$("invite").onsubmit = (event) => {
  event.preventDefault();
  rooms.get(current)?.invite($("invite-user").value.trim()).catch(refused);
  $("invite-user").value = "";
};

$("depart").onclick = () => {
  if (confirm(`Leave ${displayName(current)}? You will need an invitation to come back.`)) {
    rooms.get(current)?.depart().catch(refused);
  }
};

if ($("new-direct")) {
  $("new-direct").onsubmit = (event) => {
    event.preventDefault();
    current = null;
    client.direct($("direct-user").value.trim()).catch(refused);
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
    client.user = me;
    client.close();
    client.connect();
  };
}

if (me) client.connect();
else setStatus("offline", "pick a name");
