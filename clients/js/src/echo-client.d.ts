// Types of echo-client.js: the echo protocol of docs/protocols.md.

export class EchoClient {
  constructor(
    url: string,
    options?: { WebSocket?: new (url: string, protocols?: string[]) => WebSocket; protocols?: string[] },
  );
  /** Resolves once open; rejects if the connection closes first. */
  readonly opened: Promise<EchoClient>;
  /** The subprotocol the server chose ("" for none). */
  readonly protocol: string;
  /** How the connection closed, once it has. */
  closed?: { code: number; reason: string };
  /** A message that answers no send of this client's (another member's, on a group). */
  onmessage: ((data: string | Uint8Array) => void) | null;
  /** Resolves with the echo: a string for text, bytes for binary. */
  send(data: string | Uint8Array | ArrayBuffer): Promise<string | Uint8Array>;
  close(code?: number): void;
}
