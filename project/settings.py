"""Settings for the echo service. Every value comes from the environment.

README.md lists each variable with its default.
"""

import resource
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from . import environment as env
from .channel_layers import channel_layers

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(env.text("STATE_DIR", str(BASE_DIR / "var")))

DEBUG = env.flag("DEBUG", default=False)
SECRET_KEY = env.text("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set; set it (any long random string) or set DEBUG=1"
        )
    SECRET_KEY = "insecure-key-for-DEBUG-only"

ALLOWED_HOSTS = env.words("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env.words("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "channels",
    "ninja",
    "server",
    # Each feature app with a routing.py is served at its WebSocket paths
    # (project/asgi.py); nothing else needs to know of it.
    "echo",
    "chat",
    # Publishing from application code and other services (realtime/).
    "realtime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "server.operations.middleware.csp.content_security_policy",
    "server.operations.middleware.static.static_files",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env.text("DATABASE_URL")
if not DATABASE_URL:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{STATE_DIR / 'db.sqlite3'}",
        # Seconds a connection is kept. A worker lives for days and stores a
        # chat message per transaction: a new connection each time held the
        # chat benchmark to 81 messages/s on PostgreSQL, against 170 kept.
        conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 600),
        # A kept connection that the server closed is replaced on its next use
        # (consumers reach the database through database_sync_to_async).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL compiles a query whose estimated cost is high (the unread
    # counts of 200 rooms are) to machine code first: 350 ms of compiling for
    # 25 ms of work (python -m bench --modes unread). The chat runs short
    # queries only, which never repay it.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Writers take the lock when their transaction starts, so that two
        # workers storing into one room wait for each other instead of failing
        # on a lock upgrade; WAL lets readers go on meanwhile.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    # The unread index's covering column is PostgreSQL's; SQLite reads the row.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.text("REDIS_URL")
CHANNEL_LAYERS = channel_layers(
    REDIS_URL,
    # Events a channel may hold before its consumer takes them: a consumer
    # that falls this far behind is closed with 3008, not buffered for.
    capacity=env.integer("CHANNEL_CAPACITY", 1000, minimum=1),
    # Seconds an undelivered message lives in Redis: a worker's inbox, or a
    # named channel, outlives its last message by this much.
    expiry=env.integer("CHANNEL_EXPIRY", 60, minimum=1),
    # Seconds a named channel's group membership lives unless refreshed.
    group_expiry=env.integer("CHANNEL_GROUP_EXPIRY", 86400, minimum=1),
    # Seconds a worker process's group memberships outlive its last heartbeat
    # (every third of this): how long a killed worker's members linger.
    membership_ttl=env.integer("CHANNEL_MEMBERSHIP_TTL", 30, minimum=2),
    # Seconds a Redis read may take: how long a Redis that stopped answering
    # goes unnoticed before members are closed with 1013. Shorter notices
    # sooner, and wakes each idle worker more often (it waits 0.4 of this).
    socket_timeout=env.number("REDIS_SOCKET_TIMEOUT", 5.0, minimum=0.5),
    hosts=env.words("REDIS_SHARDS", ""),
    flavour=env.text("REDIS_CHANNEL_LAYER", "inbox"),
    # On a Redis Cluster, the slots the layer's groups are spread over, each
    # read by one blocking call per worker: up to this many masters share
    # the load, and each worker holds this many reading connections.
    cluster_partitions=env.integer("REDIS_CLUSTER_PARTITIONS", 16, minimum=1),
)

# The largest WebSocket message, in bytes, that the server accepts; a larger
# one closes the connection with 1009. Applied to daphne by server.transport.
WEBSOCKET_MAX_MESSAGE_SIZE = env.integer(
    "WEBSOCKET_MAX_MESSAGE_SIZE", 1024 * 1024, minimum=1
)
# Bytes that may wait in the worker for one client, beyond what the kernel's
# socket buffer holds; a client that lets more wait has stopped reading and is
# closed with 3008. Two of the largest messages, so that a full-size echo can
# queue behind another on a client that reads, slowly.
WEBSOCKET_SEND_BUFFER_BYTES = env.integer(
    "WEBSOCKET_SEND_BUFFER_BYTES", 2 * WEBSOCKET_MAX_MESSAGE_SIZE, minimum=1
)
# Seconds the server waits for the client to answer its close frame before it
# drops the TCP connection; a slow client needs time to read what is queued
# before the close frame.
WEBSOCKET_CLOSE_TIMEOUT = env.integer("WEBSOCKET_CLOSE_TIMEOUT", 5, minimum=1)
# Messages an echo connection may send: one connection echoing 1,000 a second
# takes about a tenth of a worker's core (python -m bench), so one client
# cannot take a worker over. Over it: close 1008 (echo has no error replies).
# 0 turns it off, as the benchmark does to measure what a worker can do.
ECHO_RATE_PER_SECOND = env.number("ECHO_RATE_PER_SECOND", 1000.0, minimum=0)
ECHO_RATE_BURST = env.integer("ECHO_RATE_BURST", 2000, minimum=1)
# Seconds in which a connection's first request line and headers must all
# arrive (a WebSocket handshake included). A client sends them in one packet;
# 10 s leaves room for a slow mobile link and drops one that sends a byte at a
# time (slowloris) with 408 before many such hold the worker's descriptors.
HTTP_HEADERS_TIMEOUT = env.integer("HTTP_HEADERS_TIMEOUT", 10, minimum=1)
# Bytes of request line and headers; more is answered 431. Twisted's own
# bound: a browser's head is 1-2 KB, and a few large cookies fit.
HTTP_MAX_HEADER_BYTES = env.integer("HTTP_MAX_HEADER_BYTES", 16384, minimum=1024)
# The bearer token /metrics asks for; unset, it answers loopback requests only.
METRICS_TOKEN = env.text("METRICS_TOKEN")
# WebSocket connections one worker process holds at once. An idle one costs
# about 20 KB (python -m bench --modes memory), so 10,000 is some 200 MB, and
# every one is a file descriptor: the limit stays 100 under the process's
# descriptor limit, so that a refusal (503) can still be answered and the
# database and Redis still connected. Past it, or past the per-address limit
# (a browser opens a few per tab; an office behind one NAT, some dozens),
# the handshake is refused with 503.
DESCRIPTORS_KEPT = 100
WEBSOCKET_MAX_CONNECTIONS = env.integer("WEBSOCKET_MAX_CONNECTIONS", 10000, minimum=1)
_descriptors = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
if _descriptors != resource.RLIM_INFINITY:
    WEBSOCKET_MAX_CONNECTIONS = min(
        WEBSOCKET_MAX_CONNECTIONS, max(1, _descriptors - DESCRIPTORS_KEPT)
    )
WEBSOCKET_MAX_CONNECTIONS_PER_ADDRESS = env.integer(
    "WEBSOCKET_MAX_CONNECTIONS_PER_ADDRESS", 200, minimum=1
)
# Keep-alive, as gorilla/websocket's chat example does it: a ping every
# WEBSOCKET_PING_INTERVAL seconds, and a peer whose pong has not come within
# WEBSOCKET_PONG_TIMEOUT is dropped, so one that vanished without a close
# (a laptop shut, a NAT that forgot it) is gone within their sum. 20 s keeps an
# idle connection alive through proxies that cut at 60 s (nginx's
# proxy_read_timeout); daphne's defaults are the same.
WEBSOCKET_PING_INTERVAL = env.integer("WEBSOCKET_PING_INTERVAL", 20, minimum=1)
WEBSOCKET_PONG_TIMEOUT = env.integer("WEBSOCKET_PONG_TIMEOUT", 30, minimum=1)
# Seconds a connection may send nothing (pongs aside) before it is closed with
# 1001: a tab left open all day should not hold a worker's memory; 0 never.
WEBSOCKET_IDLE_TIMEOUT = env.integer("WEBSOCKET_IDLE_TIMEOUT", 3600, minimum=0)
# Accept a client's permessage-deflate offer (RFC 7692). README gives the
# measurements behind the default.
WEBSOCKET_PERMESSAGE_DEFLATE = env.flag("WEBSOCKET_PERMESSAGE_DEFLATE", False)

# The HTTP fallback (server/extensions/http_fallback.py): /sse/chat/ streams
# what /ws/chat/ would send, and POST /sse/send takes what a client sends.
# Streams one worker holds: each is an open HTTP response, about what a
# WebSocket costs, so the same budget. Over it: 503.
FALLBACK_MAX_STREAMS = env.integer(
    "FALLBACK_MAX_STREAMS", WEBSOCKET_MAX_CONNECTIONS, minimum=1
)
# Bytes in one POST: a batch of chat messages as the client queued them while
# the previous POST was out; four of the largest. Over it: 413.
FALLBACK_MAX_BODY_BYTES = env.integer(
    "FALLBACK_MAX_BODY_BYTES", 64 * 1024, minimum=1024
)
# Messages a stream holds for its consumer, posted and not yet read. While
# it is full, CHANNEL_CAPACITY more wait in the channel layer, then a POST
# is refused with 429: a client cannot outrun its consumer.
FALLBACK_QUEUED_MESSAGES = env.integer("FALLBACK_QUEUED_MESSAGES", 100, minimum=1)
# Seconds between comments on a quiet stream, so that proxies that cut idle
# responses (nginx's proxy_read_timeout, 60 s by default) keep it open, and a
# client sees it is alive; as WEBSOCKET_PING_INTERVAL is for a WebSocket.
FALLBACK_KEEPALIVE_SECONDS = env.integer(
    "FALLBACK_KEEPALIVE_SECONDS", WEBSOCKET_PING_INTERVAL, minimum=1
)

# Chat (chat/protocol.py and docs/chat-protocol.md).
# Anonymous clients may chat under a name of their choosing (?name=).
CHAT_ALLOW_ANONYMOUS = env.flag("CHAT_ALLOW_ANONYMOUS", default=True)
# Characters in one message: a long paragraph, well under the frame limit.
CHAT_MAX_TEXT_LENGTH = env.integer("CHAT_MAX_TEXT_LENGTH", 4000, minimum=1)
# Bytes in one chat WebSocket message: the longest text, in 4-byte UTF-8, with
# room for its JSON envelope. Larger closes with 1009 before it is parsed.
CHAT_MAX_MESSAGE_SIZE = env.integer("CHAT_MAX_MESSAGE_SIZE", 16 * 1024, minimum=64)
# Messages a chat connection may send: 10 a second on average (faster than
# anyone types, enough for a client catching up after a reconnect) with bursts
# of 20. Over it: the error rate_limited; 20 refused in a row: close 1008.
CHAT_RATE_PER_SECOND = env.number("CHAT_RATE_PER_SECOND", 10.0, minimum=0)
CHAT_RATE_BURST = env.integer("CHAT_RATE_BURST", 20, minimum=1)
# Messages a join without "since" brings: a screenful and some.
CHAT_HISTORY_LATEST = env.integer("CHAT_HISTORY_LATEST", 50, minimum=1)
# Most messages in one history page or one "since" answer: bounds one reply
# (at most 100 x 4,000 characters) and one query; the client asks for more.
CHAT_HISTORY_PAGE = env.integer("CHAT_HISTORY_PAGE", 100, minimum=1)
# A thread's newest replies shown with its root in the room's history: a
# preview under the message, its full list being the thread's to page.
CHAT_THREAD_LATEST = env.integer("CHAT_THREAD_LATEST", 2, minimum=0)
# Results in one search page (newest first; the client asks for the next):
# a screenful, and one index scan's worth of rows to rank and highlight.
CHAT_SEARCH_PAGE = env.integer("CHAT_SEARCH_PAGE", 20, minimum=1)
# Characters in one search query: a few words and filters. A longer one is
# refused (text_too_long) rather than planned as a query of hundreds of terms.
CHAT_SEARCH_MAX_LENGTH = env.integer("CHAT_SEARCH_MAX_LENGTH", 200, minimum=1)
# Files in chat messages (chat/files.py). Bytes in one upload: a phone's
# photo (3 to 8 MB) or a document; a video belongs in a service made for it.
# Over it: 413 before the file is stored. nginx's client_max_body_size
# (deploy/nginx.conf) stops bigger bodies before they reach a worker.
CHAT_UPLOAD_MAX_BYTES = env.integer(
    "CHAT_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1
)
# What may be uploaded, as read from a file's bytes: images a browser shows,
# PDF and plain text. Not HTML or SVG, which would run script on our origin.
CHAT_UPLOAD_TYPES = env.words(
    "CHAT_UPLOAD_TYPES",
    "image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain",
)
# Pixels in one image (all of an animation's frames): a 48-megapixel phone
# photo, with room. Decoding a larger one (a "decompression bomb" of a few KB)
# could take gigabytes.
CHAT_IMAGE_MAX_PIXELS = env.integer("CHAT_IMAGE_MAX_PIXELS", 50_000_000, minimum=1)
# Pixels on a thumbnail's longer side: a message's preview on a wide screen.
CHAT_THUMBNAIL_SIZE = env.integer("CHAT_THUMBNAIL_SIZE", 400, minimum=16)
# Hours an upload may wait for a message to name it before chat_prune_uploads
# deletes it: a draft left overnight survives, an abandoned one goes.
CHAT_UPLOAD_UNSENT_HOURS = env.integer("CHAT_UPLOAD_UNSENT_HOURS", 24, minimum=1)
# Files one message may refer to: a handful of photos at once.
CHAT_MESSAGE_FILES = env.integer("CHAT_MESSAGE_FILES", 10, minimum=1)
# Away notifications (chat/away.py, chat/notifier.py). Seconds between a
# mention or direct message to someone not connected and its email: time to
# come back and read it, in which case no email goes; what else arrives
# meanwhile goes in the same email.
CHAT_NOTIFY_DELAY = env.number("CHAT_NOTIFY_DELAY", 300.0, minimum=0)
# Seconds the notifier waits between two looks for emails due: a small
# fraction of the delay, one indexed query each.
CHAT_NOTIFY_POLL = env.number("CHAT_NOTIFY_POLL", 5.0, minimum=0.05)
# Seconds before an email the SMTP server refused or could not take is tried again.
CHAT_NOTIFY_RETRY = env.number("CHAT_NOTIFY_RETRY", 60.0, minimum=0)
# Seconds an email may be "sending" before a notifier that stopped is taken to
# have left it: then it is unconfirmed and never sent again. Well over
# EMAIL_TIMEOUT, so that a slow SMTP server is not mistaken for a dead notifier.
CHAT_NOTIFY_LEASE = env.number("CHAT_NOTIFY_LEASE", 120.0, minimum=1)
# The domain of the emails' Message-IDs.
CHAT_NOTIFY_DOMAIN = env.text("CHAT_NOTIFY_DOMAIN", "chat.localhost")
# Seconds between two typing notices a connection passes on.
CHAT_TYPING_INTERVAL = env.integer("CHAT_TYPING_INTERVAL", 2, minimum=0)
# Unread messages and mentions are counted per room up to this many (shown
# as "100+"): each counted one is an index entry read for every `rooms` ask,
# and 200 rooms of 100 stay within a few milliseconds.
CHAT_UNREAD_CAP = env.integer("CHAT_UNREAD_CAP", 100, minimum=1)
# The room a first visit starts in, named in the `rooms` reply.
CHAT_START_ROOM = env.text("CHAT_START_ROOM", "lobby")
# Seconds a presence entry (a chat member, or a user's connection) outlives
# its worker's last renewal (every third): how long a killed worker's users linger.
PRESENCE_TTL = env.integer("PRESENCE_TTL", 30, minimum=2)

# The HTTP API for other services (realtime/api.py, docs/api.md).
# Keys a caller sends as "Authorization: Bearer <key>", comma-separated, so
# that a key can be rotated by adding the new one before removing the old.
# None set: every API request is refused with 401.
API_KEYS = env.words("API_KEYS", "")
# Requests one key may make to one worker: a backend announcing a deploy to
# every user sends in bursts, and 200 a second (bursts of 400) still leaves a
# worker most of its time for its WebSockets. Over it: 429. 0 turns it off.
API_RATE_PER_SECOND = env.number("API_RATE_PER_SECOND", 200.0, minimum=0)
API_RATE_BURST = env.integer("API_RATE_BURST", 400, minimum=1)
# Bytes in one API request body: a chat message of CHAT_MAX_TEXT_LENGTH in
# 4-byte UTF-8 with its JSON, or a notification, with room. Over it: 413.
API_MAX_BODY_BYTES = env.integer("API_MAX_BODY_BYTES", 64 * 1024, minimum=1024)

# An upload's CSRF failure is JSON like its other refusals (chat/views.py).
CSRF_FAILURE_VIEW = "chat.views.csrf_failure"

# Where people reach the service, for the links in emails.
SITE_URL = env.text("SITE_URL", "http://localhost:8000").rstrip("/")
# The SMTP server the notifier sends through (Django's email settings).
EMAIL_HOST = env.text("EMAIL_HOST", "localhost")
EMAIL_PORT = env.integer("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.text("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env.text("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env.flag("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.flag("EMAIL_USE_SSL", default=False)
# Seconds one SMTP exchange may take; Django's default waits for ever.
EMAIL_TIMEOUT = env.number("EMAIL_TIMEOUT", 30.0, minimum=1)
DEFAULT_FROM_EMAIL = env.text("DEFAULT_FROM_EMAIL", "Chat <chat@localhost>")
if CHAT_NOTIFY_LEASE <= EMAIL_TIMEOUT:
    raise ImproperlyConfigured(
        f"CHAT_NOTIFY_LEASE ({CHAT_NOTIFY_LEASE}) must exceed EMAIL_TIMEOUT"
        f" ({EMAIL_TIMEOUT}): a slow send would be taken for a stopped notifier"
    )

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "chat"

# Where uploaded files are kept (chat/files.py): FILE_STORAGE names a storage
# backend (local files under MEDIA_ROOT by default) and FILE_STORAGE_OPTIONS its
# options as JSON, so that an S3-compatible one is a setting (docs/configuration.md).
MEDIA_ROOT = env.text("MEDIA_ROOT", str(BASE_DIR / "media"))
STORAGES = {
    "default": {
        "BACKEND": env.text(
            "FILE_STORAGE", "django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": env.json_value("FILE_STORAGE_OPTIONS", {}),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

STATIC_URL = "static/"
# Where collectstatic gathers the files (the Dockerfile sets it). Unset, they are
# served straight from the apps' static folders, so a checkout needs no build step.
STATIC_ROOT = env.text("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True
# The JavaScript client library, served as it is at static/clients/ for the
# chat page (and any other front end) to import.
STATICFILES_DIRS = [("clients", BASE_DIR / "clients" / "js" / "src")]

# SECURE_COOKIES=1 says the service is reached over HTTPS (TLS ends at the
# proxy, which says so in X-Forwarded-Proto): cookies are sent only over HTTPS,
# and browsers are told (HSTS) to use nothing else for HSTS_SECONDS.
SESSION_COOKIE_SECURE = env.flag("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if SESSION_COOKIE_SECURE:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.integer("HSTS_SECONDS", 365 * 24 * 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOG_LEVEL = env.text("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "server.operations.logs.EscapingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "echo": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "server": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "chat": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "realtime": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

USE_TZ = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
