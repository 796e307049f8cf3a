// The echo client: one WebSocket, a log of everything that happens to it.
// Received text goes into the page through textContent only, never as HTML.
"use strict";

const statusOutput = document.getElementById("status");
const log = document.getElementById("log");
const groupInput = document.getElementById("group");
const messageInput = document.getElementById("message");
const binaryBox = document.getElementById("binary");
const SUBPROTOCOLS = document.querySelector("main").dataset.subprotocols.split(",");

let socket = null;

function endpoint() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const group = groupInput.value.trim();
  const path = group ? `/ws/echo/${encodeURIComponent(group)}/` : "/ws/echo/";
  return `${scheme}//${window.location.host}${path}`;
}

function record(kind, text) {
  const item = document.createElement("li");
  item.className = `event-${kind}`;
  item.textContent = `${new Date().toLocaleTimeString()} ${kind}: ${text}`;
  log.appendChild(item);
  item.scrollIntoView({ block: "nearest" });
}

function describe(data) {
  if (typeof data === "string") {
    return `text (${data.length} characters): ${data}`;
  }
  const bytes = new Uint8Array(data);
  const preview = Array.from(bytes.slice(0, 32), (b) => b.toString(16).padStart(2, "0"));
  return `binary ${bytes.length} bytes [${preview.join(" ")}${bytes.length > 32 ? " …" : ""}]`;
}

function connect() {
  if (socket) {
    socket.onclose = null;
    socket.close(1000, "reconnecting");
  }
  const url = endpoint();
  statusOutput.value = "connecting";
  socket = new WebSocket(url, SUBPROTOCOLS);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    statusOutput.value = "open";
    const details = [
      socket.protocol && `subprotocol ${socket.protocol}`,
      socket.extensions && `extensions ${socket.extensions}`,
    ].filter(Boolean);
    record("open", `${url}${details.length ? ` (${details.join("; ")})` : ""}`);
  };
  socket.onmessage = (event) => record("message", describe(event.data));
  socket.onerror = () => record("error", "the connection failed or broke");
  socket.onclose = (event) => {
    statusOutput.value = "closed";
    record("close", `code ${event.code}${event.reason ? `, reason "${event.reason}"` : ""}${event.wasClean ? "" : " (not clean)"}`);
  };
}

document.getElementById("connection").addEventListener("submit", (event) => {
  event.preventDefault();
  connect();
});

document.getElementById("disconnect").addEventListener("click", () => {
  if (socket) socket.close(1000, "closed by the user");
});

document.getElementById("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    record("error", "not connected: press Reconnect");
    return;
  }
  const text = messageInput.value;
  const data = binaryBox.checked ? new TextEncoder().encode(text) : text;
  socket.send(data);
  record("sent", describe(binaryBox.checked ? data.buffer : data));
  messageInput.value = "";
});

connect();
