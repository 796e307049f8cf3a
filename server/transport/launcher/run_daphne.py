"""``python -m server.transport.launcher.run_daphne ARGS``: daphne's command
line, on uvloop.

daphne builds its event loop when ``daphne.server`` is first imported, so the
uvloop policy must be in place before that; this module does only that, then
hands over to daphne's own command line with the same arguments.
"""

import asyncio
import sys

import uvloop

if __name__ == "__main__":
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(sys.argv[1:])
