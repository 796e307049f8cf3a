"""The benchmark's printed table (with ratios) and its PNG charts."""

from pathlib import Path

OURS = "ours (1 worker)"
OURS_ON_GRANIAN = "ours on granian"
OURS_ON_PICOWS = "ours on picows (a ceiling)"
STOCK = "stock Channels on daphne"
PLAIN = "websockets + uvloop"
WEBROCKETS = "webrockets"
# The rows given ratios, and what each is compared with.
COMPARED = (OURS, OURS_ON_GRANIAN, OURS_ON_PICOWS)
VERSUS = ((STOCK, "stock"), (PLAIN, "websockets"), (WEBROCKETS, "webrockets"))


def ratio(ours, other):
    return f"{ours / other:.2f}x" if other else "-"


def matching(rows, target, **key):
    for row in rows:
        if row["target"] == target and all(row.get(k) == v for k, v in key.items()):
            return row
    return None


def markdown(headers, lines):
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(cell) for cell in line) + " |" for line in lines]
    return "\n".join(out)


def versus(rows, row, figure, **key):
    """``row``'s ``figure`` as a ratio to each baseline's, if it is compared."""
    others = [matching(rows, name, **key) for name, _ in VERSUS]
    if row["target"] not in COMPARED:
        return [""] * len(others)
    return [ratio(row[figure], other[figure]) if other else "-" for other in others]


def echo_table(rows):
    lines = []
    for row in rows:
        key = {"connections": row["connections"]}
        stock = matching(rows, STOCK, **key)
        p99 = ratio(row["p99_ms"], stock["p99_ms"]) if stock else "-"
        lines.append(
            [
                row["target"],
                row["connections"],
                f"{row['round_trips_per_s']:,.0f}",
                f"{row['p50_ms']:.2f}",
                f"{row['p99_ms']:.2f}",
                *versus(rows, row, "round_trips_per_s", **key),
                p99 if row["target"] in COMPARED else "",
                f"{row['server_cores']:.0%}",
                f"{row['client_cpu']:.0%}",
            ]
        )
    headers = ["server", "conns", "round trips/s", "p50 ms", "p99 ms"]
    headers += [f"rt/s vs {label}" for _, label in VERSUS] + ["p99 vs stock"]
    headers += ["server CPU", "client CPU"]
    return markdown(headers, lines)


DEFLATE_OFF = "ours, deflate offered, off"
DEFLATE_ON = "ours, permessage-deflate"


def deflate_cost(rows, figure, label, fmt, **key):
    """One line: ``figure`` with permessage-deflate on against off."""
    off, on = matching(rows, DEFLATE_OFF, **key), matching(rows, DEFLATE_ON, **key)
    if not (off and on):
        return ""
    return (
        f"permessage-deflate on vs off{where(key)}: {label} "
        f"{fmt.format(on[figure])} vs {fmt.format(off[figure])} "
        f"({ratio(on[figure], off[figure])})"
    )


def where(key):
    return "".join(f", {value} {name}" for name, value in key.items())


def single_figure_table(rows, figure, label, fmt):
    lines = []
    for row in rows:
        extra = f"{row['client_cpu']:.0%}" if "client_cpu" in row else ""
        line = [row["target"], fmt.format(row[figure])]
        lines.append([*line, *versus(rows, row, figure), extra])
    headers = ["server", label, *(f"vs {name}" for _, name in VERSUS)]
    return markdown([*headers, "client CPU"], lines)


# The fan-out rows every other is compared with, at the same group size.
FANOUT_BASELINES = ("stock Channels, core layer", "websockets broadcast")


def fanout_table(rows):
    rows = [row for row in rows if not row.get("idle_members")]
    lines = []
    for row in rows:
        compared = [
            matching(rows, baseline, members=row["members"])
            for baseline in FANOUT_BASELINES
        ]
        lines.append(
            [
                row["target"],
                row["members"],
                f"{row['deliveries_per_s']:,.0f}",
                *(
                    ratio(row["deliveries_per_s"], other["deliveries_per_s"])
                    if other
                    else "-"
                    for other in compared
                ),
                f"{row['p99_ms']:.1f}",
                f"{row['offered_p50_ms']:.1f}",
                f"{row['offered_p99_ms']:.1f}",
                f"{row['lost']:.0f}",
                f"{row['duplicates']:.0f}",
                f"{row['workers_cores']:.2f}",
                f"{row['redis_cores']:.2f}",
                f"{row['client_cpu']:.0%}",
            ]
        )
    offered = rows[0]["offered_per_s"] if rows else 0
    headers = ["server", "members", "deliveries/s", "vs stock core"]
    headers += ["vs websockets.broadcast", "p99 ms"]
    headers += [f"p50 ms at {offered:,.0f}/s", f"p99 ms at {offered:,.0f}/s"]
    headers += ["lost", "duplicates", "workers' cores", "Redis cores", "client CPU"]
    return markdown(headers, lines)


SINGLE_REDIS = "ours, inbox layer"
CLUSTER = "ours, inbox layer, Redis Cluster"


def cluster_table(rows):
    """Ours on a three-master cluster beside ours on one Redis, same run."""
    rows = [row for row in rows if not row.get("idle_members")]
    single = {r["members"]: r for r in rows if r["target"] == SINGLE_REDIS}
    lines = []
    for row in rows:
        one = single.get(row["members"])
        if row["target"] != CLUSTER or not one:
            continue
        lines.append(
            [
                row["members"],
                f"{one['deliveries_per_s']:,.0f}",
                f"{row['deliveries_per_s']:,.0f}",
                ratio(row["deliveries_per_s"], one["deliveries_per_s"]),
                f"{one['redis_cpu_ms_per_1000']:.1f}",
                f"{row['redis_cpu_ms_per_1000']:.1f}",
                f"{row['lost']:.0f}",
            ]
        )
    headers = ["members", "one Redis: deliveries/s", "cluster: deliveries/s"]
    headers += ["cluster vs one Redis", "one Redis: CPU ms per 1,000"]
    headers += ["cluster: CPU ms per 1,000", "lost on the cluster"]
    return markdown(headers, lines)


def failover_table(rows):
    lines = [
        [
            row["target"],
            f"{row['told_s']:.2f}",
            f"{row['live_again_s']:.1f}",
            f"{row['closed_1013']:.0f} of 2",
            f"{row['broken']:.0f}",
        ]
        for row in rows
    ]
    headers = ["Redis setup", "members told (1013), s", "live across workers, s"]
    headers += ["closed with 1013", "members with a gap"]
    return markdown(headers, lines)


def cluster_transport_table(rows):
    lines = [
        [
            row["target"],
            f"{row['messages_per_s']:,.0f}",
            f"{row['delivered']:,.0f} of {row['expected']:,.0f}",
            f"{row['redis_cpu_ms_per_1000']:.1f}",
        ]
        for row in rows
    ]
    headers = ["transport", "messages/s to both", "delivered", "CPU ms per 1,000"]
    return markdown(headers, lines)


def storm_table(rows):
    lines = [
        [
            row["target"],
            f"{row['connections']:,}",
            f"{row['all_back_s']:.1f}",
            f"{row['peak_attempts_per_s']:,.0f}",
            f"{row['peak_handshakes_per_s']:,.0f}",
            f"{row['mean_handshakes_per_s']:,.0f}",
            f"{row['failed_attempts']:,.0f}",
        ]
        for row in rows
    ]
    headers = ["clients' rule", "connections", "all back, s from the kill"]
    headers += ["busiest 100 ms of attempts, per s", "busiest second, handshakes"]
    headers += ["mean handshakes/s"]
    headers += ["failed attempts"]
    return markdown(headers, lines)


def idle_group_table(rows):
    rows = [row for row in rows if row.get("idle_members")]
    lines = [
        [row["target"], row["connections"], f"{row['kb_per_connection']:.1f}"]
        for row in rows
    ]
    return markdown(["server", "idle members", "KB per member"], lines)


def chat_table(rows):
    lines = [
        [
            row["target"],
            row["members"],
            f"{row['accepted_per_s']:,.0f}",
            f"{row['p50_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            f"{row['lost']:.0f}",
            f"{row['duplicates']:.0f}",
            f"{row['workers_cores']:.2f}",
            f"{row['redis_cores']:.2f}",
            f"{row['client_cpu']:.0%}",
        ]
        for row in rows
    ]
    offered = rows[0]["offered_per_s"] if rows else 0
    headers = ["server", "members", "accepted/s"]
    headers += [f"p50 ms at {offered}/s", f"p99 ms at {offered}/s", "lost"]
    headers += ["duplicates", "workers' cores", "Redis cores", "client CPU"]
    return markdown(headers, lines)


def fallback_table(rows):
    """The room each way, then an idle member's cost each way."""
    rooms = [row for row in rows if "deliveries_per_s" in row]
    websocket = next((r for r in rooms if "WebSocket" in r["target"]), None)
    lines = [
        [
            row["target"],
            row["members"],
            f"{row['accepted_per_s']:,.0f}",
            f"{row['deliveries_per_s']:,.0f}",
            ratio(row["deliveries_per_s"], websocket and websocket["deliveries_per_s"]),
            f"{row['p50_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            f"{row['lost']:.0f}",
            f"{row['duplicates']:.0f}",
            f"{row['workers_cores']:.2f}",
            f"{row['client_cpu']:.0%}",
        ]
        for row in rooms
    ]
    offered = rooms[0]["offered_per_s"] if rooms else 0
    headers = ["members on", "members", "messages/s", "deliveries/s"]
    headers += ["vs WebSocket", f"p50 ms at {offered}/s", f"p99 ms at {offered}/s"]
    headers += ["lost", "duplicates", "workers' cores", "client CPU"]
    parts = [markdown(headers, lines)]
    for row in rows:
        if "stream_kb" in row:
            parts.append(
                f"\nAn idle member, {row['idle']:,} of them on one worker:"
                f" {row['websocket_kb']:.1f} KB on a WebSocket,"
                f" {row['stream_kb']:.1f} KB on an event stream"
                f" ({ratio(row['stream_kb'], row['websocket_kb'])})."
            )
    return "\n".join(parts)


def unread_table(rows):
    lines = [
        [
            row["target"],
            f"{row['stored_events']:,}",
            row["rooms_listed"],
            f"{row['unread_total']:,}",
            f"{row['mentions_total']:,}",
            f"{row['p50_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
        ]
        for row in rows
    ]
    headers = ["server", "stored messages", "rooms listed", "unread (capped)"]
    headers += ["mentions", "rooms p50 ms", "rooms p99 ms"]
    return markdown(headers, lines)


def search_table(rows):
    lines = [
        [
            row["target"],
            f"{row['stored_events']:,}",
            row["results"],
            f"{row['p50_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            row["asks"],
        ]
        for row in rows
    ]
    headers = ["server, query", "stored messages", "results", "p50 ms", "p99 ms"]
    table = markdown(headers + ["asks"], lines)
    planned = next((row for row in rows if row.get("plan")), None)
    if planned is None:
        return table
    plan = "\n".join("    " + line for line in planned["plan"])
    return f"{table}\n\nThe plan of the slowest ({planned['plan_of']}):\n\n{plan}"


def publish_table(rows):
    sync = next((row for row in rows if row["target"].startswith("sync")), None)
    api = next((row for row in rows if row["target"].startswith("HTTP")), None)
    lines = []
    if sync:
        lines.append(
            [
                "sync publishes/s through async_to_sync, one process",
                f"{sync['ours_per_s']:,.0f}",
                f"{sync['core_per_s']:,.0f} (channels-redis core)",
                f"{sync['ratio']:.1f}x",
            ]
        )
        lines.append(
            [
                "sync publishes/s through realtime.publish.send_to_group",
                f"{sync['publish_module_per_s']:,.0f}",
                f"{sync['core_per_s']:,.0f} (channels-redis core)",
                f"{sync['publish_module_ratio']:.1f}x",
            ]
        )
    if api:
        lines += [
            [
                "HTTP API publishes/s, one worker",
                f"{api['publishes_per_s']:,.0f}",
                "",
                "",
            ],
            [
                "HTTP API call p99 ms at 200/s",
                f"{api['call_p99_ms_at_200']:.1f}",
                "",
                "",
            ],
            [
                "API call to delivery on the other worker, p50 / p99 ms",
                f"{api['delivery_p50_ms']:.1f} / {api['delivery_p99_ms']:.1f}",
                "",
                "",
            ],
            ["deliveries lost", f"{api['lost']:.0f}", "", ""],
        ]
    return markdown(["measure", "ours", "baseline", "ratio"], lines)


def connections_table(rows):
    lines = [
        [
            f"{row['connections']:,}",
            row.get("workers", 1),
            f"{row['opened_per_s']:,.0f}",
            f"{row['dropped_while_idle']:.0f}",
            f"{row['kb_per_connection']:.1f}",
            f"{row['idle_worker_cores']:.1%} over {row['idle_seconds']:.0f} s",
            f"{row['broadcast_seconds']:.2f}",
            f"{row['deliveries_per_s']:,.0f}",
            f"{row['closed_1001']:,.0f} in {row['close_seconds']:.1f} s",
            f"{row.get('not_seen_closed', 0):,.0f}",
        ]
        for row in rows
    ]
    headers = ["connections", "workers", "opened/s", "dropped idle", "KB each"]
    headers += ["workers' CPU idle", "broadcast to last, s", "deliveries/s"]
    headers += ["closed 1001 on SIGTERM", "not seen closed"]
    return markdown(headers, lines)


def scaling_table(rows):
    one = next((row for row in rows if row["workers"] == 1), None)

    def per_core(row):
        return row["round_trips_per_s"] / row["server_cores"]

    def versus_one(figure, row):
        return ratio(figure(row), figure(one)) if one else "-"

    lines = [
        [
            row["workers"],
            row["connections"],
            f"{row['round_trips_per_s']:,.0f}",
            f"{row['p99_ms']:.2f}",
            versus_one(lambda each: each["round_trips_per_s"], row),
            f"{row['server_cores']:.2f}",
            f"{per_core(row):,.0f}",
            versus_one(per_core, row),
            f"{row['client_cpu']:.0%}",
        ]
        for row in rows
    ]
    headers = ["workers", "conns", "round trips/s", "p99 ms", "vs 1 worker"]
    headers += ["server cores", "rt/s per server core", "per core vs 1 worker"]
    return markdown([*headers, "client CPU"], lines)


def table(document):
    results = document["results"]
    parts = [
        f"command: {document['command']}",
        f"machine: {document['machine']}",
        f"figures: medians of {document['rounds']} rounds",
    ]
    if "echo" in results:
        parts += [
            "\n## Echo round trips (32-byte text, closed loop)",
            echo_table(results["echo"]),
            "",
            *(
                deflate_cost(
                    results["echo"],
                    "round_trips_per_s",
                    "rt/s",
                    "{:,.0f}",
                    connections=n,
                )
                for n in sorted({row["connections"] for row in results["echo"]})
            ),
        ]
    if "handshakes" in results:
        parts += [
            "\n## Handshakes (open and close)",
            single_figure_table(
                results["handshakes"], "handshakes_per_s", "handshakes/s", "{:,.0f}"
            ),
        ]
    if "memory" in results:
        parts += [
            "\n## Memory per idle connection",
            single_figure_table(
                results["memory"], "kb_per_connection", "KB per connection", "{:.1f}"
            ),
            "",
            deflate_cost(
                results["memory"], "kb_per_connection", "KB per connection", "{:.1f}"
            ),
        ]
    if "fanout" in results:
        parts += [
            "\n## Group fan-out over two workers",
            fanout_table(results["fanout"]),
            "\n## One idle group over two workers",
            idle_group_table(results["fanout"]),
            "\n## Redis Cluster beside one Redis (fan-out, Redis CPU per 1,000"
            " deliveries)",
            cluster_table(results["fanout"]),
        ]
    if "layers" in results:
        parts += [
            "\n## Channel layers compared (fan-out)",
            fanout_table(results["layers"]),
        ]
    if "scaling" in results:
        parts += ["\n## Scaling (both cores)", scaling_table(results["scaling"])]
    if "chat" in results:
        parts += ["\n## Chat: one room over two workers", chat_table(results["chat"])]
    if "fallback" in results:
        parts += [
            "\n## The HTTP fallback beside the WebSocket (one room, two workers)",
            fallback_table(results["fallback"]),
        ]
    if "connections" in results:
        parts += [
            "\n## Many connections, over as many workers as they need",
            connections_table(results["connections"]),
        ]
    if "publish" in results:
        parts += [
            "\n## Publishing from the application",
            publish_table(results["publish"]),
        ]
    if "storm" in results:
        parts += [
            "\n## Reconnect storm (the worker killed, a new one started)",
            storm_table(results["storm"]),
        ]
    if "unread" in results:
        parts += [
            "\n## Unread counts: rooms, for one user over a large history",
            unread_table(results["unread"]),
        ]
    if "search" in results:
        parts += [
            "\n## Search: one user in many rooms over a large history",
            search_table(results["search"]),
        ]
    if "cluster-transport" in results:
        parts += [
            "\n## Group messages across a Redis Cluster, Redis alone (two readers)",
            cluster_transport_table(results["cluster-transport"]),
        ]
    if "failover" in results:
        parts += [
            "\n## A Redis master killed (seconds from the kill)",
            failover_table(results["failover"]),
        ]
    return "\n".join(parts)


def charts(document, out_dir):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    results = document["results"]
    drawn = []

    def bar_chart(name, rows, figure, label, group=None):
        """One horizontal bar a row, grouped by ``group``; ours in orange."""
        if group:
            rows = sorted(rows, key=lambda row: row[group])
        values = [row[figure] for row in rows]
        labels = [
            row["target"] + (f", {row[group]} {group}" if group else "") for row in rows
        ]
        figure_, axes = pyplot.subplots(figsize=(8, 1.2 + 0.26 * len(rows)))
        positions = range(len(rows))
        colours = [
            "tab:orange" if row["target"].startswith("ours") else "tab:blue"
            for row in rows
        ]
        axes.barh(positions, values, color=colours)
        axes.set_yticks(positions, labels, fontsize=7)
        axes.invert_yaxis()
        axes.set_xlabel(label)
        for position, value in zip(positions, values, strict=True):
            text = f" {value:,.1f}" if value < 100 else f" {value:,.0f}"
            axes.text(value, position, text, va="center", fontsize=6)
        axes.set_title(f"{name} ({document['machine']})", fontsize=9)
        figure_.tight_layout()
        path = Path(out_dir) / f"{name}.png"
        figure_.savefig(path, dpi=100)
        pyplot.close(figure_)
        drawn.append(path)

    if "echo" in results:
        bar_chart(
            "echo", results["echo"], "round_trips_per_s", "round trips/s", "connections"
        )
    if "handshakes" in results:
        bar_chart(
            "handshakes", results["handshakes"], "handshakes_per_s", "handshakes/s"
        )
    if "memory" in results:
        bar_chart(
            "memory", results["memory"], "kb_per_connection", "KB per idle connection"
        )
    if "fanout" in results:
        bar_chart(
            "fanout",
            [row for row in results["fanout"] if not row.get("idle_members")],
            "deliveries_per_s",
            "deliveries/s",
            "members",
        )
    if "scaling" in results:
        bar_chart(
            "scaling",
            results["scaling"],
            "round_trips_per_s",
            "round trips/s",
            "workers",
        )
    return drawn
