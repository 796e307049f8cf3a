"""permessage-deflate (RFC 7692) as autobahn implements it, with bounded memory.

daphne never accepts a client's offer (``daphne_protocol.py``
installs ``accept_deflate`` when WEBSOCKET_PERMESSAGE_DEFLATE is on). With no
context takeover autobahn still keeps each direction's zlib object from one
message to the next; ``forget_compression_context`` drops it once a message is
done, so that an idle connection holds none (README, *permessage-deflate*,
gives the measurement).
"""

from autobahn.websocket.compress_deflate import (
    PerMessageDeflate,
    PerMessageDeflateOffer,
    PerMessageDeflateOfferAccept,
)

# permessage-deflate, when WEBSOCKET_PERMESSAGE_DEFLATE is on. zlib's deflate
# takes 2**(window + 2) + 2**(memory level + 9) bytes and inflate 2**window:
# 256 KB and 32 KB at zlib's defaults (15, 8). No context takeover in either
# direction, so each message is compressed alone and nothing is kept between
# messages; with it, a browser's idle connection would hold both for good.
DEFLATE_WINDOW_BITS = 12
DEFLATE_MEMORY_LEVEL = 5

RELIES_ON = [
    (PerMessageDeflate.__init__, ["_compressor", "_decompressor"]),
    (
        PerMessageDeflate,
        ["server_no_context_takeover", "client_no_context_takeover", "_is_server"],
    ),
    (PerMessageDeflateOffer, ["accept_no_context_takeover", "accept_max_window_bits"]),
]


def accept_deflate(offers):
    """The answer to a client's permessage-deflate offers: the first plain
    deflate offer, with both directions compressing each message alone."""
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            window = DEFLATE_WINDOW_BITS
            if offer.request_max_window_bits:
                window = min(window, offer.request_max_window_bits)
            return PerMessageDeflateOfferAccept(
                offer,
                request_no_context_takeover=offer.accept_no_context_takeover,
                request_max_window_bits=(
                    DEFLATE_WINDOW_BITS if offer.accept_max_window_bits else 0
                ),
                no_context_takeover=True,
                window_bits=window,
                mem_level=DEFLATE_MEMORY_LEVEL,
            )
    return None


def forget_compression_context(compression, sending):
    """autobahn keeps the zlib object of a message without context takeover
    until the next message replaces it; drop it, so that an idle connection
    holds none (300 KB each at zlib's defaults)."""
    if compression is None:
        return
    ours = compression._is_server == sending
    peers = (
        compression.server_no_context_takeover
        if ours
        else (compression.client_no_context_takeover)
    )
    if peers:
        if sending:
            compression._compressor = None
        else:
            compression._decompressor = None


def refuse_offers(offers):
    return None
