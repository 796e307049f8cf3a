"""Who may call the HTTP API, how often, and with how much: API keys
(API_KEYS), a token bucket per key in each worker (API_RATE_PER_SECOND,
API_RATE_BURST), and a bound on the body (API_MAX_BODY_BYTES)."""

import hashlib
import hmac

from django.conf import settings
from ninja.security import HttpBearer

from server.extensions.limits import Rate, TokenBucket


class ApiError(Exception):
    """An answer with a status and a documented error code (docs/api.md)."""

    def __init__(self, status, code, detail):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class ApiKey(HttpBearer):
    """``Authorization: Bearer <key>``, one of API_KEYS, compared in constant
    time; then the key's rate and the body's size."""

    def __init__(self):
        super().__init__()
        # Per key (by digest), for this worker: a key's rate is per worker.
        self.buckets = {}

    def __call__(self, request):
        answer = super().__call__(request)
        if answer is None:
            raise ApiError(401, "unauthorized", "send Authorization: Bearer <API key>")
        return answer

    def authenticate(self, request, token):
        offered = token.encode()
        matched = False
        for key in settings.API_KEYS:
            # Every key is compared, in constant time each.
            matched |= hmac.compare_digest(key.encode(), offered)
        if not matched:
            raise ApiError(401, "unauthorized", "unknown API key")
        digest = hashlib.sha256(offered).hexdigest()[:16]
        self.admit(digest)
        length = int(request.headers.get("Content-Length") or 0)
        if max(length, len(request.body)) > settings.API_MAX_BODY_BYTES:
            raise ApiError(
                413,
                "too_large",
                f"the body is over {settings.API_MAX_BODY_BYTES} bytes",
            )
        return digest

    def admit(self, key):
        rate = Rate(settings.API_RATE_PER_SECOND, settings.API_RATE_BURST)
        if not rate.enabled:
            return
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(rate)
        if not bucket.take():
            raise ApiError(429, "rate_limited", "too many requests with this key")
