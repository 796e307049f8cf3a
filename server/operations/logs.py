"""Log lines a client cannot forge.

Client text reaches the logs (the echo's line per message). A newline in it
would start what reads as a record of its own (``hi\n<date> ERROR ...``), and
terminal escapes would rewrite the operator's screen, so every log record's
message has its control characters escaped (``\\n``, ``\\x1b``). daphne's
access log needs nothing: it writes the path as sent, percent-encoded, and
Twisted answers a request line holding a control character with 400.
"""

import logging
import re

# C0 and C1 controls, DEL, and the two Unicode line and paragraph separators.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text):
    return CONTROL.sub(escaped, text)


def escaped(match):
    return match.group().encode("unicode_escape").decode("ascii")


class EscapingFormatter(logging.Formatter):
    """Escapes control characters in the message; a traceback, which the
    formatter appends after, keeps its lines."""

    def formatMessage(self, record):
        record.message = printable(record.message)
        return super().formatMessage(record)
