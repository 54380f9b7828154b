"""``el-monitor drill forwarder``: N forwarders in one JetStream consumer group, one SIGKILLed
under load; passes when every event published is stored once (``backup.forwarder_drill``).

The drill is kept in the drill log (``--report-dir``), where ``check_el_drill --kind
forwarder`` finds the last one that passed.

Exit status: 0 passed, 1 failed (events lost or duplicated, a forwarder that died, a wait
that timed out), 2 a mistake on the command line or an unreachable server (one line).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from el_monitor.argtypes import positive_float, positive_int
from el_monitor.backup.drill_log import DEFAULT_DIR
from el_monitor.cli.options import Commands, add_db_option

__all__ = ["register_forwarder"]


def register_forwarder(drills: Commands) -> None:
    drill = drills.add_parser(
        "forwarder",
        help="kill one forwarder of a JetStream consumer group under load; prove none lost",
        description="Starts --forwarders forwarder processes in the consumer group --stream "
        "names, publishes --events copies of --canary-event (each its own uuid) at --rate, "
        "SIGKILLs one half-way, waits until every event is stored, and reports events "
        "published, stored, lost, duplicated, and the recovery: from the kill until every "
        "message delivered before it is stored. Exit 0 passed (0 lost, 0 duplicated), 1 failed.",
    )
    drill.add_argument(
        "--stream",
        required=True,
        metavar="URI",
        help="the group: nats://HOST:PORT/STREAM?consumer=NAME, as the forwarders take it",
    )
    drill.add_argument(
        "--forwarders", type=positive_int, default=2, metavar="N", help="(default 2, at least 2)"
    )
    add_db_option(drill, required=True, help="the database the forwarders store into")
    drill.add_argument("--schemas", required=True, metavar="DIR|URL", help="their schemas")
    drill.add_argument(
        "--canary-event",
        required=True,
        metavar="FILE",
        help="a JSON capsule (schema, revision, wiki, event) the forwarders accept",
    )
    drill.add_argument("--events", type=positive_int, default=10_000, metavar="N")
    drill.add_argument(
        "--rate", type=positive_float, default=1_000.0, metavar="R", help="events/s (default 1000)"
    )
    drill.add_argument(
        "--subject", metavar="SUBJECT", help="where to publish (default: the stream's subject)"
    )
    drill.add_argument(
        "--timeout",
        type=positive_float,
        default=120.0,
        metavar="S",
        help="fail when events are not stored this long after the load (default 120)",
    )
    drill.add_argument(
        "--max-recovery", type=positive_float, metavar="S", help="fail when recovery takes longer"
    )
    drill.add_argument(
        "--report-dir",
        default=DEFAULT_DIR,
        metavar="DIR",
        help=f"the drill log, which check_el_drill --kind forwarder reads (default {DEFAULT_DIR})",
    )
    drill.set_defaults(run=run_forwarder_drill)


def run_forwarder_drill(args: argparse.Namespace) -> int:
    from el_monitor.backup import drill_log
    from el_monitor.backup.canary import load_template
    from el_monitor.backup.forwarder_drill import (
        ForwarderDrill,
        ForwarderDrillPlan,
        drill_record,
        report,
    )
    from el_monitor.cli.stores import open_or_fail
    from el_monitor.errors import UserError
    from el_monitor.store import open_store

    if args.forwarders < 2:
        raise UserError("--forwarders: a group of at least 2, so one can take over")
    with tempfile.TemporaryDirectory(prefix="el-monitor-drill-") as workdir:
        plan = ForwarderDrillPlan(
            stream=args.stream,
            forwarders=args.forwarders,
            db=args.db,
            schemas=args.schemas,
            template=load_template(args.canary_event),
            workdir=Path(workdir),
            events=args.events,
            rate=args.rate,
            subject=args.subject,
            timeout=args.timeout,
            max_recovery=args.max_recovery,
        )
        open_or_fail(args.db, create=True, spool_dir=None, hint="").close()  # reachable?
        started = drill_log.utc_now().isoformat()
        result = ForwarderDrill(plan, open_store).run()
        text = report(plan, result)
        print(text, end="")
        record = drill_record(plan, result, started, drill_log.utc_now().isoformat())
        print(f"\nkept in {drill_log.keep(args.report_dir, record, [('.txt', text)])}")
        if not result.passed:
            for log_path in sorted(Path(workdir).glob("*.log")):
                tail = log_path.read_text(errors="replace").splitlines()[-5:]
                if tail:
                    print(f"\n{log_path.name}:\n" + "\n".join(tail))
    return 0 if result.passed else 1
