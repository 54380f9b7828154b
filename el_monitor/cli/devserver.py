"""``el-monitor devserver``: a local beacon that stores nothing and prints each event's verdict.

One line per event (time, schema, revision, valid or its errors with their paths), coloured on
a terminal and plain otherwise; on SIGINT or SIGTERM, the tally per schema.  The serving and
judging are ``ingest.devserver``'s.
"""

from __future__ import annotations

import argparse
import sys
import time

from el_monitor.argtypes import positive_int
from el_monitor.cli.options import Commands, add_registry_options
from el_monitor.cli.signals import stop_on_signals

DEFAULT_PORT = 8100


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "devserver",
        help="a local beacon that validates and prints events, storing nothing",
        description="Serve GET /beacon/event?<json> (204) and POST /v1/events (202) as the "
        "forwarder does, judge each event with the same rules and validators, and print one "
        "line per event; store nothing. Ctrl-C prints the tally per schema.",
    )
    add_registry_options(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)"
    )
    parser.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=65536,
        metavar="N",
        help="largest POST body accepted (larger: 413), as the forwarder's",
    )
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from el_monitor.cli.verdict_text import tally_table, verdict_line
    from el_monitor.ingest.devserver import DevEvent, DevServer
    from el_monitor.schema.registry import open_registry, require_schemas

    registry = open_registry(args.schemas, args.schema_cache)
    require_schemas(registry, args.schemas)
    server = DevServer(registry, args.host, args.port, max_body_bytes=args.max_body_bytes)
    host, port = server.address
    colour = sys.stdout.isatty()
    print(
        f"devserver listening on http://{host}:{port}/beacon/event and /v1/events; "
        "storing nothing (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )

    def show(event: DevEvent) -> None:
        when = time.strftime("%H:%M:%S", time.gmtime(event.received))
        note = " (DNT/GPC: the forwarder would keep nothing)" if event.opted_out else ""
        print(f"{when} {verdict_line(event.verdict, colour=colour)}{note}", flush=True)

    with stop_on_signals() as stop:
        tally = server.run(stop, show)
    print(tally_table(tally), flush=True)
    return 0
