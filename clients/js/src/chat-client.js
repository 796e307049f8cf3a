// The chat client: one connection to /ws/chat/ and every client rule of
// docs/chat-protocol.md, for any front end. A page, a React app or a Node
// service renders what it holds and calls its methods; none of them speaks
// the protocol itself.
//
// - The connection: states with events, reconnection with jittered back-off,
//   and each close code's "reconnect or not".
// - Rooms: each event id applied once and in order, gaps repaired with
//   history, resume with since and epoch, a reset surfaced as one event.
// - Requests: promises answered by the reply, ack or error naming their
//   client_id. A message is kept until the server confirms it stored it and
//   is sent again after a reconnect; its client_id stores it once.

export const CONNECTING = "connecting";
export const OPEN = "open";
export const DEGRADED = "degraded"; // open, but Redis is down: live delivery may lag
export const RETRYING = "closed-will-retry";
export const STOPPED = "stopped";

// Close codes after which reconnecting cannot help (docs/chat-protocol.md);
// every other close, a dropped connection (1006) included, is retried.
export const FINAL_CLOSES = new Map([
  [1000, "closed"], [1007, "invalid_utf8"], [1009, "too_big"],
  [3000, "signed_out"], [4001, "invalid_name"],
]);
// Refusals after which a message is sent again, and how long after.
const RESEND_ERRORS = new Set(["rate_limited", "unavailable"]);
const RESEND_AFTER_MS = 1000;
const TYPING_EVERY_MS = 2000; // the server's CHAT_TYPING_INTERVAL
// A rejoin refused with these is tried again; with these, the room is gone.
const REJOIN_AGAIN = new Set(["timeout", "unavailable", "rate_limited"]);
const ROOM_GONE = new Set(["forbidden", "banned", "unknown_room"]);
const REMOVED = new Set(["banned", "removed", "departed"]);

/** Back-off before attempt ``attempt`` (0 first): doubling from ``first`` up
 * to ``last``, a random point in the upper half of that ("equal jitter"), so
 * that the clients of a worker that died do not come back in step. */
export function retryDelay(attempt, first = 500, last = 30000) {
  const ceiling = Math.min(last, first * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

export class ChatError extends Error {
  constructor(code, detail, ref = null) {
    super(`${code}: ${detail}`);
    this.name = "ChatError";
    Object.assign(this, { code, detail, ref });
  }
}

class Emitter {
  #listeners = new Map();
  /** Call ``listener`` for each ``type`` event; returns a function that stops it. */
  on(type, listener) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(listener);
    return () => this.#listeners.get(type).delete(listener);
  }
  emit(type, detail) {
    for (const listener of this.#listeners.get(type) || []) listener(detail);
  }
}

let requestCount = 0;
function newClientId() {
  requestCount += 1;
  return `c-${Date.now().toString(36)}-${requestCount}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Upload ``file`` (a Blob or File) into ``room`` for a message to name by
 * its id: POST /chat/files as the signed-in user whose session cookie the
 * request carries, with Django's CSRF token (the csrftoken cookie's value).
 * Resolves with the file as a message lists it; rejects with a ChatError of
 * the answer's code (file_too_large, type_not_allowed...). In a browser,
 * ``onProgress(sent, total)`` follows the upload (XMLHttpRequest); elsewhere
 * it goes by fetch, with ``headers`` (a Cookie) added. */
export function uploadFile(room, file, { base = "", csrfToken, headers = {}, onProgress = null, name = null } = {}) {
  const form = new FormData();
  form.append("room", room);
  form.append("file", file, name ?? file.name ?? "file");
  const url = `${base}/chat/files`;
  const answered = (status, body) => {
    let answer;
    try {
      answer = JSON.parse(body);
    } catch {
      answer = { error: `http_${status}`, detail: body.slice(0, 200) };
    }
    if (status === 201) return answer;
    throw new ChatError(answer.error, answer.detail);
  };
  if (typeof XMLHttpRequest === "undefined") {
    return fetch(url, { method: "POST", body: form, headers: { ...headers, "X-CSRFToken": csrfToken } })
      .then(async (response) => answered(response.status, await response.text()));
  }
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    request.setRequestHeader("X-CSRFToken", csrfToken);
    if (onProgress) request.upload.onprogress = (event) => onProgress(event.loaded, event.total);
    request.onload = () => {
      try {
        resolve(answered(request.status, request.responseText));
      } catch (error) {
        reject(error);
      }
    };
    request.onerror = () => reject(new ChatError("disconnected", "the upload did not reach the server"));
    request.send(form);
  });
}

export class ChatClient extends Emitter {
  /**
   * @param url the endpoint, a list to try in turn, or a function of the
   *   attempt number giving one
   * @param options user (who this client chats as, for unread counts and
   *   mentions), WebSocket (constructor), requestTimeout (ms), firstRetry and
   *   lastRetry (ms), fallback ({after, Socket}: the transport to use once
   *   ``after`` WebSockets in a row failed to open)
   */
  constructor(url, options = {}) {
    super();
    this.url = url;
    this.user = options.user || null;
    this.WebSocket = options.WebSocket || globalThis.WebSocket;
    this.requestTimeout = options.requestTimeout ?? 10000;
    this.retry = [options.firstRetry ?? 500, options.lastRetry ?? 30000];
    this.fallback = options.fallback || null; // {after, Socket}: see http-fallback.js
    this.unopened = 0; // WebSockets in a row that closed before they opened
    this.transport = null; // "websocket" or "http", once connecting
    this.state = STOPPED;
    this.rooms = new Map(); // name -> Room, for every room joined
    this.listing = new Map(); // name -> the rooms reply's entry, kept up to date
    this.start = null; // the room a first visit starts in
    this.viewing = null; // the room the person is looking at: its news is not unread
    this.socket = null;
    this.attempts = 0; // since the last connection that got an answer
    this.pending = new Map(); // client_id -> {resolve, reject, timer, room}
    this.timer = null;
  }

  connect() {
    if (this.socket || this.timer) return;
    this.#open();
  }

  /** Close for good: nothing more is sent, pending requests are rejected. */
  close() {
    clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    this.#stop(1000, "closed");
    if (socket) socket.close(1000);
  }

  #endpoint() {
    if (typeof this.url === "function") return this.url(this.attempts);
    if (Array.isArray(this.url)) return this.url[this.attempts % this.url.length];
    return this.url;
  }

  #open() {
    this.timer = null;
    this.#setState(CONNECTING);
    // After ``fallback.after`` WebSockets in a row that never opened (or
    // could not even be made), the fallback transport from then on.
    const fallback = this.fallback && this.unopened >= this.fallback.after;
    let socket;
    try {
      socket = fallback ? new this.fallback.Socket(this.#endpoint()) : new this.WebSocket(this.#endpoint());
    } catch {
      this.unopened += 1;
      return this.#dropped(1006);
    }
    this.transport = fallback ? "http" : "websocket";
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      if (!fallback) this.unopened = 0;
      this.#setState(OPEN, { transport: this.transport });
      this.#raw({ type: "rooms" });
      for (const room of this.rooms.values()) room._rejoin();
    };
    socket.onmessage = (event) => this.#receive(JSON.parse(event.data));
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!opened && !fallback) this.unopened += 1;
      this.#dropped(event.code);
    };
  }

  #dropped(code) {
    for (const room of this.rooms.values()) room.joined = false;
    this.#rejectPending((entry) => !entry.resend, "disconnected", "the connection closed first");
    if (FINAL_CLOSES.has(code)) return this.#stop(code, FINAL_CLOSES.get(code));
    const delay = retryDelay(this.attempts, ...this.retry);
    this.attempts += 1;
    this.#setState(RETRYING, { code, delay });
    this.timer = setTimeout(() => this.#open(), delay);
  }

  #stop(code, reason) {
    this.#rejectPending(() => true, "stopped", "the client stopped");
    for (const room of this.rooms.values()) room.joined = false;
    this.#setState(STOPPED, { code, reason });
  }

  #setState(state, detail = {}) {
    this.state = state;
    this.emit("state", { state, ...detail });
  }

  _sendRaw(message) {
    return this.#raw(message);
  }

  #raw(message) {
    if (this.socket && this.socket.readyState === 1) {
      this.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  /** Send a request and await its answer: the reply, the ack, or a
   * ChatError with the protocol's error code ("timeout" after ``timeout`` ms,
   * "disconnected" if the connection closed first). */
  request(type, fields = {}, { timeout = this.requestTimeout } = {}) {
    const clientId = newClientId();
    return new Promise((resolve, reject) => {
      if (!this.#raw({ type, ...fields, client_id: clientId })) {
        return reject(new ChatError("disconnected", "not connected"));
      }
      const timer = setTimeout(() => {
        this.pending.delete(clientId);
        reject(new ChatError("timeout", `no answer to ${type} in ${timeout} ms`, clientId));
      }, timeout);
      this.pending.set(clientId, { resolve, reject, timer });
    });
  }

  /** A message kept until stored: sent now if connected, and again after
   * every reconnect until the server confirms it. */
  _post(room, fields, clientId, timeout) {
    return new Promise((resolve, reject) => {
      const timer = timeout ? setTimeout(() => {
        this.pending.delete(clientId);
        room.unsent.delete(clientId);
        reject(new ChatError("timeout", `not confirmed in ${timeout} ms`, clientId));
      }, timeout) : null;
      this.pending.set(clientId, { resolve, reject, timer, resend: true, room });
      room.unsent.set(clientId, fields);
      if (room.joined) room._sendUnsent(clientId);
    });
  }

  #settle(ref, outcome, value) {
    const entry = this.pending.get(ref);
    if (!entry) return false;
    this.pending.delete(ref);
    clearTimeout(entry.timer);
    if (entry.room) entry.room.unsent.delete(ref);
    entry[outcome](value);
    return true;
  }

  #rejectPending(which, code, detail) {
    for (const [ref, entry] of this.pending) {
      if (which(entry)) this.#settle(ref, "reject", new ChatError(code, detail, ref));
    }
  }

  /** Join a room (made if public and new); resolves with its Room once
   * joined, at once if connected, else once the connection opens. */
  async join(name) {
    const room = this.room(name);
    if (room.joined) return room;
    room.wanted = true;
    if (this.socket?.readyState === 1) {
      await this.request("join", room._since());
      return room;
    }
    return new Promise((resolve, reject) => {
      const stops = [
        room.on("joined", () => done(resolve, room)),
        this.on("state", ({ state }) => state === STOPPED && done(reject, new ChatError("stopped", "the client stopped"))),
      ];
      const done = (settle, value) => {
        for (const stop of stops) stop();
        settle(value);
      };
    });
  }

  /** The private room of this user and ``user``. */
  async direct(user) {
    return this.#entered(await this.request("direct", { user }));
  }

  /** A new room this user owns. */
  async create(name, { private: isPrivate = false } = {}) {
    return this.#entered(await this.request("create", { room: name, private: isPrivate }));
  }

  async leave(name) {
    const room = this.rooms.get(name);
    if (!room) return;
    this.rooms.delete(name);
    if (room.joined) await this.request("leave", { room: name });
    room.joined = false;
  }

  /** The rooms this user may enter, with unread counts (kept in ``listing``). */
  async refreshRooms() {
    return this.request("rooms");
  }

  /** Messages of the rooms this user may read that match ``query``, newest
   * first; the reply's ``next`` is the ``cursor`` of the following page. */
  search(query, { cursor = null, limit = null } = {}) {
    const fields = { query };
    if (cursor !== null) fields.cursor = cursor;
    if (limit !== null) fields.limit = limit;
    return this.request("search", fields);
  }

  /** Whether this user is emailed what they miss while away: sets it with
   * ``email`` (true or false), asks without. Resolves with the reply. */
  notifications(email = null) {
    return this.request("notifications", email === null ? {} : { email });
  }

  #entered(reply) {
    return this.room(reply.room); // made and filled by its joined reply
  }

  /** The Room of ``name``, made (not joined) if new: listen before joining. */
  room(name) {
    if (!this.rooms.has(name)) {
      this.rooms.set(name, new Room(this, name));
      this.emit("room", this.rooms.get(name));
    }
    return this.rooms.get(name);
  }

  #receive(message) {
    if (message.type === "error") return this.#refused(message);
    const room = message.room === undefined ? null : this.rooms.get(message.room);
    RECEIVERS[message.type]?.(this, message, room);
    // A message's answer is the message itself, once its room applied it
    // (_confirmed); its ack says only that it is stored.
    const kept = message.type === "ack" && this.pending.get(message.ref)?.resend;
    if (kept && Number.isInteger(message.id)) this.pending.get(message.ref).room._stored(message.id);
    if (message.ref !== undefined && !kept) this.#settle(message.ref, "resolve", message);
  }

  _confirmed(message) {
    if (message.client_id) this.#settle(message.client_id, "resolve", message);
  }

  _setState(state, detail) {
    this.#setState(state, detail);
  }

  #refused(message) {
    const error = new ChatError(message.code, message.detail, message.ref ?? null);
    const entry = message.ref && this.pending.get(message.ref);
    if (entry && entry.resend && RESEND_ERRORS.has(message.code)) {
      setTimeout(() => entry.room._sendUnsent(message.ref), RESEND_AFTER_MS);
      return;
    }
    if (!message.ref || !this.#settle(message.ref, "reject", error)) this.emit("error", error);
  }

  _listed(message) {
    this.attempts = 0;
    this.listing.clear();
    for (const entry of [...message.rooms, ...message.direct]) this.listing.set(entry.name, entry);
    this.start = message.start;
    this.emit("rooms", this.listing);
  }

  _read(message) {
    const room = this.rooms.get(message.room);
    if (message.user !== this.user) {
      if (room) room._seen(message.user, message.id);
      return;
    }
    if (message.unread === null) return;
    if (room) room.read = Math.max(room.read, message.id);
    const entry = this.listing.get(message.room) || { name: message.room };
    this.listing.set(message.room, { ...entry, read: message.id, unread: message.unread, mentions: message.mentions });
    this.emit("rooms", this.listing);
  }

  _removed(message) {
    const room = this.rooms.get(message.room);
    this.rooms.delete(message.room);
    this.listing.delete(message.room);
    if (room) {
      room.joined = false;
      this.#rejectPending((entry) => entry.room === room, "removed", `removed from ${room.name}`);
    }
    this.emit("removed", message);
    this.emit("rooms", this.listing);
  }

  /** Counted here so that a badge moves before the next rooms reply. */
  _counted(room, event) {
    if (event.author === this.user || event.id <= room.read || this.viewing === room.name) return;
    const entry = this.listing.get(room.name) || { name: room.name, unread: 0, mentions: 0 };
    const mention = this.user !== null && mentions(event.text, this.user);
    this.listing.set(room.name, {
      ...entry, unread: (entry.unread || 0) + 1, mentions: (entry.mentions || 0) + (mention ? 1 : 0),
    });
    this.emit("rooms", this.listing);
  }
}

// What the client does with each type the server sends (every one of
// chat/protocol.py's SERVER_TYPES: tests/test_js_clients.py checks). A
// message naming a request's client_id as ref also settles it; errors are
// the client's own to match.
const event = (client, message, room) => room?._accept([message], null);
const RECEIVERS = {
  joined(client, message) {
    client.attempts = 0;
    client.room(message.room)._joined(message);
  },
  message: event,
  edit: event,
  delete: event,
  reaction: event,
  member: event,
  history: (client, message, room) => room?._history(message),
  thread: (client, message, room) => room?._thread(message),
  rooms: (client, message) => client._listed(message),
  presence: (client, message, room) => room?._presence(message),
  typing: (client, message, room) => room?._typing(message),
  members: (client, message, room) => room?._members(message),
  read: (client, message) => client._read(message),
  removed: (client, message) => client._removed(message),
  invited(client, message) {
    client.refreshRooms().catch(() => {});
    client.emit("invited", message);
  },
  degraded: (client, message) => client._setState(DEGRADED, { detail: message.detail }),
  restored(client, message) {
    client._setState(OPEN, { detail: message.detail });
    for (const room of client.rooms.values()) room._catchUp();
  },
  notice: (client, message) => client.emit("notice", message),
  left() {}, // settled by its ref
  search() {}, // likewise
  notifications() {}, // likewise
  ack() {}, // likewise
  error() {}, // matched to its request before this table
};

/** Whether ``text`` mentions ``user`` with @name (the server's rule). */
export function mentions(text, user) {
  const name = user.replace(/[.]/g, "\\.");
  return new RegExp(`(^|[^\\w.@])@${name}(?![\\w-])`).test(text);
}

export class Room extends Emitter {
  constructor(client, name) {
    super();
    this.client = client;
    this.name = name;
    this.lastId = 0; // every event up to it applied, nothing above it
    this.epoch = null;
    this.items = new Map(); // id -> message or member event, as shown
    this.waiting = new Map(); // id -> event received above a gap
    this.unsent = new Map(); // client_id -> the message's fields, until confirmed stored
    this.online = new Set();
    this.typing = new Map(); // user -> when they last said so (ms)
    this.seen = {}; // in a direct room: the other person's read position
    this.members = null;
    this.joined = false;
    this.wanted = false; // joined, or asked to be: joined again on every reconnect
    this.repairing = false;
    this.lowest = null; // the lowest id held
    Object.assign(this, { private: false, role: null, muted: false, read: 0 });
    this.lastTyping = 0;
  }

  /** The messages and member events held, oldest first. */
  list() {
    return [...this.items.keys()].sort((a, b) => a - b).map((id) => this.items.get(id));
  }

  /** Post ``text`` (a reply in the thread of message ``replyTo``, with the
   * uploads ``files``: ids from ``uploadFile``); resolves with the stored
   * message once this room has applied it, however many reconnects that takes. */
  send(text, { timeout = 0, replyTo = null, files = [] } = {}) {
    const fields = { text };
    if (replyTo !== null) fields.reply_to = replyTo;
    if (files.length) fields.files = [...files];
    return this.client._post(this, fields, newClientId(), timeout);
  }

  /** A page of the thread of message ``id``, oldest first, after the reply
   * ``after``; its replies are held with the room's messages. */
  thread(id, { after = null, limit = null } = {}) {
    const fields = { id };
    if (after !== null) fields.after = after;
    if (limit !== null) fields.limit = limit;
    return this.#ask("thread", fields);
  }

  /** The replies held of the thread of message ``id``, oldest first. */
  replies(id) {
    return this.list().filter((item) => item.reply_to === id);
  }

  edit(id, text) { return this.#ask("edit", { id, text }); }
  delete(id) { return this.#ask("delete", { id }); }
  react(id, emoji) { return this.#ask("react", { id, emoji }); }
  markRead(id = this.lastId) { return this.#ask("read", { id }); }
  loadMembers() { return this.#ask("members"); }
  invite(user) { return this.#ask("invite", { user }); }
  remove(user) { return this.#ask("remove", { user }); }
  ban(user) { return this.#ask("ban", { user }); }
  unban(user) { return this.#ask("unban", { user }); }
  mute(user) { return this.#ask("mute", { user }); }
  unmute(user) { return this.#ask("unmute", { user }); }
  setRole(user, role) { return this.#ask("role", { user, role }); }
  depart() { return this.#ask("depart"); }

  /** Older events, above what is held; resolves with the history reply. */
  async loadOlder(limit = 50) {
    return this.#ask("history", { before: this.oldest, limit });
  }

  /** Say "typing", at most once per TYPING_EVERY_MS however often called. */
  typed() {
    const now = Date.now();
    if (now - this.lastTyping < TYPING_EVERY_MS) return;
    this.lastTyping = now;
    this.client._sendRaw({ type: "typing", room: this.name });
  }

  /** Who is typing now, besides this user. */
  typists(shownFor = 4000) {
    const now = Date.now();
    return [...this.typing].filter(([, at]) => now - at < shownFor).map(([user]) => user);
  }

  #ask(type, fields = {}) {
    return this.client.request(type, { room: this.name, ...fields });
  }

  /** What a join asks for: after a first join, everything after the last id
   * held, 0 included (the newest page could pass over a message still unsent). */
  _since() {
    if (this.epoch === null) return { room: this.name };
    return { room: this.name, since: this.lastId, epoch: this.epoch };
  }

  _rejoin() {
    if (this.wanted) this.client.request("join", this._since()).catch((error) => this.#notRejoined(error));
  }

  #notRejoined(error) {
    // Not answered in time, or refused for now: again, on this connection.
    // Refused for good: the room is gone. (A closed connection rejoins anew.)
    if (REJOIN_AGAIN.has(error.code)) {
      setTimeout(() => this.client.socket?.readyState === 1 && !this.joined && this._rejoin(), RESEND_AFTER_MS);
    } else if (ROOM_GONE.has(error.code)) {
      this.client._removed({ type: "removed", room: this.name, by: null, reason: error.code === "banned" ? "banned" : "removed" });
    }
  }

  _joined(reply) {
    if (reply.reset) this.#reset();
    Object.assign(this, {
      joined: true, wanted: true, epoch: reply.epoch, private: reply.private, role: reply.role,
      muted: reply.muted, seen: reply.seen || {},
    });
    if (reply.read !== null && reply.read > this.read) this.read = reply.read;
    this.online = new Set(reply.members);
    if (this.lastId === 0 && !this.items.size) {
      // Holding nothing, this room starts where the page (or what came before
      // it) starts. Only here: a live event that overtook an earlier one (from
      // another worker) waits for it.
      const starts = [...reply.messages.map((event) => event.id), ...this.waiting.keys()];
      if (starts.length) this.lastId = Math.min(...starts) - 1;
    }
    this._accept(reply.messages, reply.last_id);
    for (const clientId of this.unsent.keys()) this._sendUnsent(clientId);
    this.emit("joined", reply);
  }

  #reset() {
    // Another history under the same ids: drop all that was held of it.
    this.lastId = 0;
    this.items.clear();
    this.waiting.clear();
    this.lowest = null;
    this.emit("reset", this);
  }

  _sendUnsent(clientId) {
    const fields = this.unsent.get(clientId);
    if (fields !== undefined && this.joined) {
      this.client._sendRaw({ type: "message", room: this.name, ...fields, client_id: clientId });
    }
  }

  _history(reply) {
    this.repairing = false;
    this._accept(reply.messages, reply.last_id);
  }

  _thread(reply) {
    this._accept([reply.root, ...reply.replies], null);
  }

  _catchUp() {
    if (this.joined) this.#repair();
  }

  /** A message of ours was stored as ``id``: its event should follow. If it
   * has not come a moment later (its broadcast was lost with a Redis node,
   * and no later event shows the gap), history brings it. */
  _stored(id) {
    setTimeout(() => {
      if (this.joined && this.lastId < id && !this.repairing) this.#repair();
    }, RESEND_AFTER_MS);
  }

  #repair() {
    this.repairing = true;
    this.client.request("history", { room: this.name, after: this.lastId }).catch((error) => {
      // Unanswered, or refused for now: asked again, so that what a gap
      // hides does not wait for the next event to show it.
      this.repairing = false;
      if (REJOIN_AGAIN.has(error.code)) {
        setTimeout(() => this.joined && !this.repairing && this.#repair(), RESEND_AFTER_MS);
      }
    });
  }

  /** Apply each new id once, in order; older history goes above. */
  _accept(events, lastId) {
    let older = false;
    for (const event of events) {
      if (event.id > this.lastId) this.waiting.set(event.id, event);
      else if (!this.items.has(event.id) && LISTED.has(event.type)) {
        this.#hold(event);
        older = true;
      }
    }
    while (this.waiting.has(this.lastId + 1)) {
      const next = this.waiting.get(this.lastId + 1);
      this.waiting.delete(next.id);
      this.lastId = next.id;
      this.#apply(next);
    }
    if (lastId !== null && lastId > this.lastId && !this.items.size && !this.waiting.size) {
      this.lastId = lastId; // an empty page: nothing held to continue from
    }
    const highest = Math.max(lastId ?? 0, ...this.waiting.keys());
    if (highest > this.lastId && !this.repairing && this.joined) this.#repair();
    if (older) this.emit("older", this);
  }

  #apply(event) {
    // Each change sets a value, so one the message already reflects changes nothing.
    if (LISTED.has(event.type)) {
      this.#hold(event);
      if (event.type === "message") {
        this.#countReply(event, 1);
        this.client._confirmed(event);
        this.client._counted(this, event);
      } else this.#member(event);
      return this.emit("event", event);
    }
    const target = this.items.get(event.target);
    if (!target) return; // a change to a message older than this room holds
    if (event.type === "edit") Object.assign(target, { text: event.text, html: event.html, edited: true });
    if (event.type === "delete" && !target.deleted) this.#countReply(target, -1);
    if (event.type === "delete") Object.assign(target, { text: "", html: "", deleted: true, edited: false, reactions: {} });
    if (event.type === "reaction") {
      const reactions = { ...target.reactions };
      if (event.users.length) reactions[event.emoji] = event.users;
      else delete reactions[event.emoji];
      target.reactions = reactions;
    }
    this.emit("change", { event, message: target });
  }

  #countReply(message, change) {
    // A reply arrived or was deleted: its root's summary says so.
    const root = this.items.get(message.reply_to);
    if (!root) return;
    const summary = { ...(root.thread || { replies: 0, last_id: null, latest: [] }) };
    if (change > 0 && (summary.last_id ?? 0) >= message.id) return; // counted in the root's summary
    summary.replies += change;
    let latest = summary.latest.filter((reply) => reply.id !== message.id);
    if (change > 0) latest.push({ id: message.id, author: message.author, text: message.text, ts: message.ts });
    summary.latest = latest = latest.slice(-THREAD_LATEST);
    summary.last_id = latest.length ? latest[latest.length - 1].id : null;
    root.thread = summary.replies > 0 ? summary : null;
    this.emit("change", { event: message, message: root });
  }

  #hold(event) {
    this.items.set(event.id, event);
    if (this.lowest === null || event.id < this.lowest) this.lowest = event.id;
  }

  /** The lowest id this room holds, or the next one if it holds none:
   * "load older" has something to bring while it is above 1. */
  get oldest() {
    return this.lowest ?? this.lastId + 1;
  }

  #member(event) {
    if (event.user === this.client.user) {
      if (event.action === "muted") this.muted = true;
      if (event.action === "unmuted") this.muted = false;
      if (event.action === "role") this.role = event.role;
      if (REMOVED.has(event.action)) this.joined = false;
    }
    if (REMOVED.has(event.action)) this.typing.delete(event.user);
  }

  _presence(message) {
    message.joined.forEach((user) => this.online.add(user));
    message.left.forEach((user) => this.online.delete(user));
    this.emit("presence", message);
  }

  _typing(message) {
    this.typing.set(message.user, Date.now());
    this.emit("typing", message.user);
  }

  _members(message) {
    this.members = message.members;
    this.emit("members", this.members);
  }

  _seen(user, id) {
    this.seen[user] = Math.max(this.seen[user] || 0, id);
    this.emit("seen", this.seen);
  }
}

const THREAD_LATEST = 2; // the server's CHAT_THREAD_LATEST: replies a root previews
const LISTED = new Set(["message", "member"]); // the events a room lists; the rest change them
