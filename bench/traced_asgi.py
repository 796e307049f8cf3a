"""The service's ASGI application with tracemalloc on, for
``python -m bench.memory_profile``: each SIGUSR1 writes the allocations made
since the previous one, by source line, to TRACEMALLOC_OUT."""

import os
import signal
import tracemalloc

tracemalloc.start(1)

from project.asgi import application  # noqa: E402, F401

_previous = []


def write_difference(signum, frame):
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    if _previous:
        lines = [
            f"{stat.size_diff}\t{stat.count_diff}\t{stat.traceback[0]}"
            for stat in snapshot.compare_to(_previous[0], "lineno")
            if stat.size_diff > 0
        ]
        target = os.environ["TRACEMALLOC_OUT"]
        with open(target + ".part", "w") as out:
            out.write("\n".join(lines))
        os.replace(target + ".part", target)
    _previous[:] = [snapshot]


signal.signal(signal.SIGUSR1, write_difference)
