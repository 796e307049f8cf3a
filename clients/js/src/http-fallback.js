// A WebSocket look-alike over the server's HTTP fallback, for networks that
// block WebSocket: server-sent events (EventSource) down, POST up. The chat
// client takes it as its transport after the WebSocket fails to open:
//
//   new ChatClient(url, { fallback: { after: 2, Socket: HttpFallbackSocket } })
//
// It carries the same protocol frames, so every rule of the chat client holds
// over it unchanged. What it sends waits for the stream's session, then goes
// in POSTs one at a time, each with whatever queued meanwhile, so the server
// receives them in order. A failed POST ends the "socket" as a dropped
// connection (1006) would: the chat client reconnects and resends.

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSED = 3;

/** ws://host/ws/chat/?q -> http://host/sse/chat/?q: the stream for an endpoint. */
export function streamUrl(url) {
  const address = new URL(url, globalThis.location?.href);
  address.protocol = address.protocol === "wss:" ? "https:" : "http:";
  address.pathname = address.pathname.replace(/^\/ws\//, "/sse/");
  return address.href;
}

export class HttpFallbackSocket {
  constructor(url, { EventSource = globalThis.EventSource, fetch = globalThis.fetch } = {}) {
    this.readyState = CONNECTING;
    this.onopen = this.onmessage = this.onclose = null;
    this.post = (...args) => fetch(...args); // a bare call: fetch needs its own this
    this.queue = [];
    this.posting = false;
    const stream = streamUrl(url);
    this.sendUrl = new URL("/sse/send", stream).href;
    this.source = new EventSource(stream);
    this.source.addEventListener("session", ({ data }) => {
      Object.assign(this, JSON.parse(data));
      this.readyState = OPEN;
      this.onopen?.({});
      this.#flush();
    });
    this.source.onmessage = ({ data }) => this.readyState === OPEN && this.onmessage?.({ data });
    this.source.addEventListener("close", ({ data }) => {
      const { code, reason } = JSON.parse(data);
      this.#closed(code, reason);
    });
    // EventSource would reconnect by itself, as a new stream the server does
    // not know; the chat client's own rules decide instead.
    this.source.onerror = () => this.#closed(1006, "");
  }

  send(text) {
    if (this.readyState !== OPEN) throw new Error("not open");
    this.queue.push(text);
    this.#flush();
  }

  close(code = 1000, reason = "") {
    this.#closed(code, reason);
  }

  async #flush() {
    if (this.posting || !this.queue.length || this.readyState !== OPEN) return;
    this.posting = true;
    const messages = this.queue.splice(0);
    try {
      const response = await this.post(this.sendUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ session: this.session, token: this.token, messages }),
      });
      if (!response.ok) throw new Error(`POST answered ${response.status}`);
    } catch {
      return this.#closed(1006, "");
    } finally {
      this.posting = false;
    }
    this.#flush();
  }

  #closed(code, reason) {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.source.close();
    this.onclose?.({ code, reason });
  }
}
