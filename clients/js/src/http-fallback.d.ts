// Types of http-fallback.js: the chat over server-sent events and POST.
import type { WebSocketLike } from "./chat-client.js";

/** The stream URL for a WebSocket endpoint: ws://host/ws/chat/ -> http://host/sse/chat/. */
export function streamUrl(url: string): string;

export class HttpFallbackSocket implements WebSocketLike {
  constructor(url: string, options?: { EventSource?: typeof EventSource; fetch?: typeof fetch });
  readonly readyState: number;
  /** The stream's name and token, once open: what each POST carries. */
  readonly session?: string;
  readonly token?: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: string }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(text: string): void;
  close(code?: number, reason?: string): void;
}
