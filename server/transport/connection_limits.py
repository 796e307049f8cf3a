"""How many WebSocket connections one worker holds, in all and per address."""


class ConnectionCounter:
    """Open WebSocket connections in this process, in all and per client
    address, against their limits. One per process: the protocol class owns it.
    Each connection counts from its handshake until its close."""

    def __init__(self, total_limit=None, per_address_limit=None):
        self.total_limit = total_limit
        self.per_address_limit = per_address_limit
        self.total = 0
        self.per_address = {}
        self.refused = 0

    def admit(self, address):
        """None if a connection from ``address`` may open, and then counted;
        else why not."""
        if self.total_limit is not None and self.total >= self.total_limit:
            self.refused += 1
            return "too many connections to this worker"
        held = self.per_address.get(address, 0)
        if self.per_address_limit is not None and held >= self.per_address_limit:
            self.refused += 1
            return "too many connections from this address"
        self.total += 1
        self.per_address[address] = held + 1
        return None

    def release(self, address):
        self.total -= 1
        held = self.per_address[address] - 1
        if held:
            self.per_address[address] = held
        else:
            del self.per_address[address]
