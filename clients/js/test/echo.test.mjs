// The echo client against the real service (ECHO_URL, from
// tests/test_js_clients.py): each send resolves with its own echo, text as
// text and binary as bytes, in order; the subprotocol is negotiated.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EchoClient } from "../src/echo-client.js";

const url = process.env.ECHO_URL;

test("text comes back as text and bytes as bytes, each to its own send", async () => {
  const echo = await new EchoClient(url, { protocols: ["chat"] }).opened;
  try {
    assert.equal(echo.protocol, "chat");
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    const [text, binary, empty] = await Promise.all([echo.send("héllo"), echo.send(bytes), echo.send("")]);
    assert.equal(text, "héllo");
    assert.deepEqual(binary, bytes);
    assert.equal(empty, "");
  } finally {
    echo.close();
  }
});

test("a close rejects what still waits, with its code", async () => {
  const echo = await new EchoClient(url).opened;
  echo.close(1000);
  await assert.rejects(echo.send("too late"));
});
