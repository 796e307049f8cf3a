"""Logs a dependency's outage once when it starts and once when it ends.

Each worker process keeps its own record: it reports what it saw of Redis.
"""

import logging

from server.extensions import counters

logger = logging.getLogger(__name__)


class Outage:
    def __init__(self, name):
        self.name = name
        self.down = False

    def failed(self, error, node):
        """Record a failure of Redis node ``node`` (``host:port``); True if it
        starts an outage."""
        counters.REDIS_ERRORS.labels(node).inc()
        if self.down:
            return False
        self.down = True
        logger.error("%s unavailable (%s): %r", self.name, node, error)
        return True

    def recovered(self):
        """Record a success; True if it ends an outage."""
        if not self.down:
            return False
        self.down = False
        logger.warning("%s available again", self.name)
        return True
