"""Per-connection limits a consumer declares: message size and message rate.

(How many connections a worker holds is the transport's:
server/transport/connection_limits.py.)

A consumer names its limits as class attributes (``LeanWebsocketConsumer``
reads them); each app's settings give the values and README's table the
reasons. Both are checked where a message enters the consumer, before it is
parsed, so a flood or an oversized message costs the worker almost nothing.
"""

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """``per_second`` messages on average, ``burst`` at once; 0 turns it off."""

    per_second: float
    burst: int

    @property
    def enabled(self):
        return self.per_second > 0


class TokenBucket:
    """Tokens refill at ``rate.per_second`` up to ``rate.burst``; each message
    takes one. The bucket starts full, so a client that has been quiet may
    send a burst at once."""

    def __init__(self, rate, clock=time.monotonic):
        self.rate = rate
        self.clock = clock
        self.tokens = float(rate.burst)
        self.updated = clock()
        # Messages refused since the last one let through: a client that keeps
        # sending into an empty bucket is flooding, not bursting.
        self.refused_in_a_row = 0

    def take(self):
        now = self.clock()
        self.tokens = min(
            self.rate.burst, self.tokens + (now - self.updated) * self.rate.per_second
        )
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused_in_a_row = 0
            return True
        self.refused_in_a_row += 1
        return False

    @property
    def flooding(self):
        """Refused as many messages in a row as a whole burst."""
        return self.refused_in_a_row >= self.rate.burst


def exceeds(limit, text_data, bytes_data):
    """Whether the message is over ``limit`` bytes. Text is encoded only when
    its length leaves it in doubt: UTF-8 takes 1 to 4 bytes a character."""
    if bytes_data is not None:
        return len(bytes_data) > limit
    if not text_data or len(text_data) * 4 <= limit:
        return False
    return len(text_data) > limit or len(text_data.encode("utf-8")) > limit
