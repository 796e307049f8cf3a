// Types of chat-client.js: the chat protocol of docs/chat-protocol.md.

export type State = "connecting" | "open" | "degraded" | "closed-will-retry" | "stopped";
export const CONNECTING: "connecting";
export const OPEN: "open";
export const DEGRADED: "degraded";
export const RETRYING: "closed-will-retry";
export const STOPPED: "stopped";
/** Close codes after which the client stops, with its reason. */
export const FINAL_CLOSES: Map<number, string>;

export function retryDelay(attempt: number, first?: number, last?: number): number;
export function mentions(text: string, user: string): boolean;

export type ErrorCode =
  | "bad_json" | "binary_frame" | "unknown_type" | "invalid_field" | "text_too_long"
  | "unknown_room" | "forbidden" | "not_joined" | "login_required" | "unknown_user"
  | "invalid_name" | "unavailable" | "rate_limited" | "room_exists" | "muted"
  | "banned" | "unknown_message" | "invalid_emoji"
  // The client's own: no answer in time, the connection or the client ended
  // first, or the user was taken out of the room.
  | "timeout" | "disconnected" | "stopped" | "removed";

export class ChatError extends Error {
  code: ErrorCode;
  detail: string;
  /** The client_id of the request it answers. */
  ref: string | null;
}

export interface Message {
  type: "message";
  room: string;
  id: number;
  author: string;
  /** As typed (Markdown). */
  text: string;
  /** The text formatted by the server: sanitised HTML, safe to insert as it is. */
  html: string;
  ts: string;
  client_id: string | null;
  edited: boolean;
  deleted: boolean;
  reactions: Record<string, string[]>;
  /** A reply's thread: its root's id; null for a message of the room itself. */
  reply_to: number | null;
  /** A thread root's replies now; null where there are none. */
  thread: ThreadSummary | null;
  /** The files it refers to ([] for none). */
  files: FileInfo[];
}
export interface FileInfo {
  id: string;
  name: string;
  /** What its bytes are. */
  type: string;
  size: number;
  width: number | null;
  height: number | null;
  url: string;
  /** An image's WebP thumbnail; null for other files. */
  thumbnail: string | null;
}
export interface ThreadSummary {
  replies: number;
  last_id: number | null;
  latest: { id: number; author: string; text: string; ts: string }[];
}
export interface ThreadReply {
  type: "thread";
  room: string;
  ref?: string;
  id: number;
  root: Message;
  replies: Message[];
  more: boolean;
  unread: number | null;
  mentions: number | null;
}
export interface SearchResult {
  room: string;
  id: number;
  author: string;
  ts: string;
  text: string;
  reply_to: number | null;
  /** The text escaped, its matches in <mark>: safe to insert as it is. */
  highlight: string;
}
export interface SearchReply {
  type: "search";
  ref?: string;
  query: string;
  results: SearchResult[];
  /** The cursor of the next page, or null. */
  next: number | null;
}
export interface MemberEvent {
  type: "member";
  room: string;
  id: number;
  ts: string;
  by: string;
  user: string;
  action: "invited" | "removed" | "departed" | "banned" | "unbanned" | "muted" | "unmuted" | "role";
  role?: "owner" | "moderator" | "member";
}
export interface Change {
  type: "edit" | "delete" | "reaction";
  room: string;
  id: number;
  ts: string;
  target: number;
  author?: string;
  by?: string;
  text?: string;
  html?: string;
  emoji?: string;
  users?: string[];
}
export type RoomEvent = Message | MemberEvent | Change;
export type Item = Message | MemberEvent;

export interface Ack {
  type: "ack";
  ref: string;
  id: number | null;
}
export interface HistoryReply {
  type: "history";
  room: string;
  ref?: string;
  messages: RoomEvent[];
  last_id: number;
}
export interface Member {
  user: string;
  role: "owner" | "moderator" | "member";
  muted: boolean;
  banned: boolean;
}
export interface MembersReply {
  type: "members";
  room: string;
  ref?: string;
  members: Member[];
}
export interface ListedRoom {
  name: string;
  last_id: number;
  epoch: string;
  private?: boolean;
  role?: string | null;
  read?: number | null;
  unread?: number;
  mentions?: number;
}
export interface RoomsReply {
  type: "rooms";
  rooms: ListedRoom[];
  direct: ListedRoom[];
  start: string;
  ref?: string;
}
export interface Notice {
  type: "notice";
  text: string;
}
export interface Removal {
  type: "removed";
  room: string;
  by: string;
  reason: "removed" | "banned" | "departed";
}
export interface Invitation {
  type: "invited";
  room: string;
  by: string;
}
export interface StateChange {
  state: State;
  /** The close code, when closed. */
  code?: number;
  /** Why the client stopped (FINAL_CLOSES' reasons, or "closed"). */
  reason?: string;
  /** The transport, once open. */
  transport?: "websocket" | "http";
  /** When it will try again, in ms (closed-will-retry). */
  delay?: number;
  detail?: string;
}

type Unsubscribe = () => void;

/** What the client needs of a transport: a WebSocket, or HttpFallbackSocket. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: string }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

export interface ChatClientOptions {
  /** Who this client chats as: its own messages are not unread, @user is a mention. */
  user?: string | null;
  /** The WebSocket constructor (the global one by default). */
  WebSocket?: new (url: string) => WebSocket;
  /** How long a request waits for its answer, in ms (10,000). */
  requestTimeout?: number;
  /** Opt in to a fallback transport (HttpFallbackSocket, from http-fallback.js)
   * once ``after`` WebSockets in a row fail to open; kept from then on. */
  fallback?: { after: number; Socket: new (url: string) => WebSocketLike };
  /** The first and the longest back-off between attempts, in ms (500, 30,000). */
  firstRetry?: number;
  lastRetry?: number;
}

export class ChatClient {
  constructor(url: string | string[] | ((attempt: number) => string), options?: ChatClientOptions);
  readonly state: State;
  /** The transport of the current connection. */
  readonly transport: "websocket" | "http" | null;
  user: string | null;
  /** Every room joined on this client, by name. */
  readonly rooms: Map<string, Room>;
  /** The rooms this user may enter, with read positions and unread counts. */
  readonly listing: Map<string, ListedRoom>;
  /** The room a first visit starts in, from the last rooms reply. */
  readonly start: string | null;
  /** The room the person is looking at now (or null): its new messages are not counted unread. */
  viewing: string | null;

  connect(): void;
  close(): void;
  join(name: string): Promise<Room>;
  direct(user: string): Promise<Room>;
  create(name: string, options?: { private?: boolean }): Promise<Room>;
  leave(name: string): Promise<void>;
  refreshRooms(): Promise<RoomsReply>;
  /** Messages matching ``query`` in the rooms this user may read, newest first. */
  search(query: string, options?: { cursor?: number | null; limit?: number | null }): Promise<SearchReply>;
  /** Whether this user is emailed what they miss while away: set with ``email``, or asked. */
  notifications(email?: boolean | null): Promise<{ type: "notifications"; email: boolean; ref?: string }>;
  /** Any request of the protocol, answered by its reply or ack. */
  /** The Room of ``name``, made (not joined) if new: listen to it before joining. */
  room(name: string): Room;
  request(type: string, fields?: Record<string, unknown>, options?: { timeout?: number }): Promise<any>;

  on(type: "state", listener: (change: StateChange) => void): Unsubscribe;
  /** A Room was made: joined, or named by room(), create() or direct(). */
  on(type: "room", listener: (room: Room) => void): Unsubscribe;
  on(type: "rooms", listener: (listing: Map<string, ListedRoom>) => void): Unsubscribe;
  on(type: "notice", listener: (notice: Notice) => void): Unsubscribe;
  on(type: "invited", listener: (invitation: Invitation) => void): Unsubscribe;
  on(type: "removed", listener: (removal: Removal) => void): Unsubscribe;
  /** An error that answers no request of this client's. */
  on(type: "error", listener: (error: ChatError) => void): Unsubscribe;
}

export class Room {
  readonly client: ChatClient;
  readonly name: string;
  /** Every event up to this id is applied, none above it. */
  readonly lastId: number;
  readonly epoch: string | null;
  readonly items: Map<number, Item>;
  /** Messages not yet confirmed stored, by client_id. */
  readonly unsent: Map<string, { text: string; reply_to?: number; files?: string[] }>;
  readonly online: Set<string>;
  readonly typing: Map<string, number>;
  readonly seen: Record<string, number>;
  readonly members: Member[] | null;
  readonly joined: boolean;
  readonly private: boolean;
  readonly role: "owner" | "moderator" | "member" | null;
  readonly muted: boolean;
  readonly read: number;
  /** The lowest id held (or the next, holding none): older history exists while it is above 1. */
  readonly oldest: number;

  /** Messages and member events, oldest first. */
  list(): Item[];
  /** Resolves with the stored message once applied here, however many reconnects that takes. */
  send(text: string, options?: { timeout?: number; replyTo?: number | null; files?: string[] }): Promise<Message>;
  /** A page of a thread's replies, oldest first; they are held with the room's items. */
  thread(id: number, options?: { after?: number | null; limit?: number | null }): Promise<ThreadReply>;
  /** The replies held of the thread of message ``id``, oldest first. */
  replies(id: number): Message[];
  edit(id: number, text: string): Promise<Ack>;
  delete(id: number): Promise<Ack>;
  react(id: number, emoji: string): Promise<Ack>;
  markRead(id?: number): Promise<Ack>;
  loadOlder(limit?: number): Promise<HistoryReply>;
  loadMembers(): Promise<MembersReply>;
  invite(user: string): Promise<Ack>;
  remove(user: string): Promise<Ack>;
  ban(user: string): Promise<Ack>;
  unban(user: string): Promise<Ack>;
  mute(user: string): Promise<Ack>;
  unmute(user: string): Promise<Ack>;
  setRole(user: string, role: "moderator" | "member"): Promise<Ack>;
  depart(): Promise<Ack>;
  /** Tell the room this user is typing; sent at most once every 2 s. */
  typed(): void;
  /** Who else has said they are typing in the last ``shownFor`` ms. */
  typists(shownFor?: number): string[];

  /** A message or member event, applied once and in order. */
  on(type: "event", listener: (item: Item) => void): Unsubscribe;
  /** An edit, deletion or reaction applied to a message held, or a reply that changed its root's thread. */
  on(type: "change", listener: (change: { event: Change | Message; message: Message }) => void): Unsubscribe;
  /** Older history placed above what was held. */
  on(type: "older", listener: (room: Room) => void): Unsubscribe;
  /** The room's history was replaced: drop what was drawn of it. */
  on(type: "reset", listener: (room: Room) => void): Unsubscribe;
  on(type: "joined", listener: (reply: Record<string, unknown>) => void): Unsubscribe;
  /** Who came and went; ``online`` has who is here now. */
  on(type: "presence", listener: (change: { joined: string[]; left: string[] }) => void): Unsubscribe;
  on(type: "typing", listener: (user: string) => void): Unsubscribe;
  on(type: "members", listener: (members: Member[]) => void): Unsubscribe;
  on(type: "seen", listener: (seen: Record<string, number>) => void): Unsubscribe;
}

/** Upload a file into a room for a message to name (POST /chat/files). */
export function uploadFile(
  room: string,
  file: Blob,
  options: {
    base?: string;
    csrfToken: string;
    headers?: Record<string, string>;
    onProgress?: ((sent: number, total: number) => void) | null;
    name?: string | null;
  },
): Promise<FileInfo>;
