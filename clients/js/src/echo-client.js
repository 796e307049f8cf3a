// The echo client: /ws/echo/ sends every message back with its own type, so
// each send resolves with its echo, text as a string and binary as bytes.
// Echoes come back in the order sent: the oldest waiting send takes each.

export class EchoClient {
  /** @param url ws://host/ws/echo/ (or a group's /ws/echo/<group>/) */
  constructor(url, { WebSocket = globalThis.WebSocket, protocols = [] } = {}) {
    this.socket = null;
    this.waiting = []; // {resolve, reject}, oldest first
    this.onmessage = null; // for a group's messages from others
    this.opened = new Promise((resolve, reject) => {
      const socket = new WebSocket(url, protocols);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => resolve(this);
      socket.onmessage = ({ data }) => this.#received(typeof data === "string" ? data : new Uint8Array(data));
      socket.onclose = (event) => {
        this.closed = { code: event.code, reason: event.reason };
        const error = new Error(`closed with ${event.code} ${event.reason}`);
        error.code = event.code;
        reject(error);
        for (const waiter of this.waiting.splice(0)) waiter.reject(error);
      };
      this.socket = socket;
    });
  }

  get protocol() {
    return this.socket.protocol;
  }

  /** Send text or bytes; resolves with the echo. */
  async send(data) {
    await this.opened;
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.send(data);
    });
  }

  #received(data) {
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve(data);
    else if (this.onmessage) this.onmessage(data);
  }

  close(code = 1000) {
    this.socket.close(code);
  }
}
