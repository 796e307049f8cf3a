"""Rounds of a measurement merged into one figure each: the median, so that a
burst of noise on a shared machine lands on one round rather than the result."""

import statistics

# What names one measured row; every other number in it is a figure.
ROW_IDENTITY = ("target", "connections", "concurrency", "members", "workers")


def medians(rows):
    """One row per identity, each figure the median of that identity's rows."""
    groups = {}
    for row in rows:
        identity = tuple(row.get(key) for key in ROW_IDENTITY)
        groups.setdefault(identity, []).append(row)
    merged = []
    for group in groups.values():
        row = dict(group[0])
        for key, value in row.items():
            if key not in ROW_IDENTITY and isinstance(value, (int, float)):
                row[key] = statistics.median(member[key] for member in group)
        merged.append(row)
    return merged
