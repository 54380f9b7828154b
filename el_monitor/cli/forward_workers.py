"""``el-monitor forward --workers N``: a supervisor and N forked forwarder processes.

Everything that can be wrong (format, registry, catalog, the inputs, the database) fails in
the supervisor, once, before any worker starts; sockets are bound and files checked there too
(``sharing``).  Each worker is then a whole forwarder (``forward_with``): its own pipeline,
store connection, spool subdirectory, event log files and instance name (``ingest.workers``),
so Graphite and the report's counts sum over workers as they sum over hosts.

The supervisor forwards SIGTERM, SIGINT and SIGHUP to every worker, waits for all of them to
drain and exit, and prints one summary: the sum of what each reported through its pipe.  It
restarts no one: a worker that dies (a signal, an error, no report) makes it stop the others
(SIGTERM: they drain, so what they accepted is kept) and exit non-zero, for the service
manager to restart the whole forwarder; the dead worker's spool and HTTP journal are taken up
again by the worker of the same number at the next start.  A worker whose supervisor dies is
sent SIGTERM by the kernel (Linux), so no orphan keeps the port.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import logging
import os
import selectors
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from el_monitor.cli.forwarding import (
    Prepared,
    forward_with,
    open_input,
    open_target,
    warn_stranded,
)
from el_monitor.cli.options import LOG_FORMAT
from el_monitor.cli.pidfile import pid_file
from el_monitor.cli.signals import STOP_SIGNALS, SignalEvent, set_on
from el_monitor.counts.counters import (
    Snapshot,
    combined,
    snapshot_from_record,
    snapshot_record,
)
from el_monitor.errors import UserError
from el_monitor.ingest.batching import SHARED_FILE_BATCH_SIZE

if TYPE_CHECKING:
    from el_monitor.ingest.sources.sharing import Share
    from el_monitor.ingest.workers import Worker

log = logging.getLogger(__name__)

SIGNALS = (*STOP_SIGNALS, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
DIED = 1  # the exit status when a worker died (at least: a worker's own error status wins)


class Running:
    """One forked worker as the supervisor sees it: its pid, the pipe it reports through."""

    def __init__(self, worker: Worker, pid: int, pipe: int) -> None:
        self.worker = worker
        self.pid = pid
        self.pipe = pipe
        self.report = bytearray()
        self.status: int | None = None  # once reaped: its exit status (-N: killed by signal N)


def supervise(args: argparse.Namespace, prepared: Prepared) -> tuple[int, Snapshot]:
    """Start the workers, relay signals, wait for all: the exit status and the sum of the
    workers' counts."""
    from el_monitor.ingest.sources.sharing import plan_shares
    from el_monitor.ingest.workers import Worker

    shares = plan_shares(args.input or ["stdin://"], args.workers)
    try:
        workers = [Worker(number) for number in range(1, len(shares) + 1)]
        for worker in workers:  # a name too long fails here, before any worker starts
            worker.instance(prepared.settings.instance)
        warn_stranded(args.spool_dir, len(workers))
        if _check_target(args) and args.batch_size is None:
            settings = dataclasses.replace(prepared.settings, batch_size=SHARED_FILE_BATCH_SIZE)
            prepared = prepared._replace(settings=settings)
            log.info("the workers share one SQLite file: each commits %d events at a time "
                     "(--batch-size)", SHARED_FILE_BATCH_SIZE)  # fmt: skip
        with pid_file(args.pid_file):
            running = _start(args, prepared, workers, shares)
            log.info(
                "forwarding %s with %d workers (pids %s)",
                _where(args.input, shares),
                len(running),
                " ".join(str(r.pid) for r in running),
            )
            return _wait(running)
    finally:
        for share in shares:
            if share.sock is not None:
                share.sock.close()
            if share.pieces is not None:
                share.pieces.close()


def _where(inputs: Sequence[str], shares: Sequence[Share]) -> str:
    """The inputs, a network one with the port its sockets were bound to (port 0 picks one)."""
    sock = shares[0].sock
    if sock is None:
        return " ".join(inputs)
    host, port = sock.getsockname()[:2]
    scheme = inputs[0].partition("://")[0]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _check_target(args: argparse.Namespace) -> bool:
    """Open the database once and close it, so an unreachable one is one error line here
    rather than one from every worker; whether it lets one connection write at a time."""
    _, store = open_target(args, args.spool_dir)
    if store is None:
        return False
    store.close()
    return store.single_writer


def _start(
    args: argparse.Namespace, prepared: Prepared, workers: list[Worker], shares: list[Share]
) -> list[Running]:
    """Fork the workers with the supervisor's signals relayed to them; each worker installs
    its own handlers before the signals it may have been sent meanwhile are delivered."""
    running: list[Running] = []
    stops: set[int] = set()  # SIGTERM or SIGINT, once relayed: a worker forked later gets it too

    def relay(signum: int, _frame: object) -> None:
        if signum != signal.SIGHUP:
            stops.add(signum)
        for worker in running:
            if worker.status is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signum)

    for signum in SIGNALS:
        signal.signal(signum, relay)
    supervisor = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    for worker, share in zip(workers, shares, strict=True):
        read_end, write_end = os.pipe()
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            inherited = [r.pipe for r in running] + [read_end]
            others = [s.sock for s in shares if s is not share and s.sock is not None]
            _worker_main(args, prepared, worker, share, write_end, inherited, others, supervisor)
        os.close(write_end)
        running.append(Running(worker, pid, read_end))
        for stop in stops:
            os.kill(pid, stop)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    return running


def _wait(running: list[Running]) -> tuple[int, Snapshot]:
    """Read every worker's report until its pipe closes, reap it; a worker that dies stops
    the others.  The exit status: 0, 1 if events are pending or a worker died, or a worker's
    own error status."""
    selector = selectors.DefaultSelector()
    for worker in running:
        selector.register(worker.pipe, selectors.EVENT_READ, worker)
    stopping = False
    while selector.get_map():
        for key, _ in selector.select():
            worker = key.data
            data = os.read(worker.pipe, 1 << 16)
            if data:
                worker.report += data
                continue
            selector.unregister(worker.pipe)
            os.close(worker.pipe)
            _, status = os.waitpid(worker.pid, 0)
            worker.status = os.waitstatus_to_exitcode(status)
            if _result(worker) is None and not stopping:
                log.error(
                    "worker %d (pid %d) died (%s); stopping the other workers",
                    worker.worker.number,
                    worker.pid,
                    _how(worker.status),
                )
                stopping = True
                for other in running:
                    if other.status is None:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(other.pid, signal.SIGTERM)
    selector.close()
    results = [r for r in map(_result, running) if r is not None]
    counts = combined([snapshot_from_record(r["counts"]) for r in results])
    dead = [r for r in running if _result(r) is None]
    if dead:
        return max(DIED, *(r.status or 0 for r in dead)), counts
    return (1 if any(r["pending"] for r in results) else 0), counts


def _result(worker: Running) -> dict | None:
    """What a worker reported at its end; None if it died before reporting."""
    if not worker.report:
        return None
    try:
        result = orjson.loads(worker.report)
    except orjson.JSONDecodeError:
        return None
    return result if isinstance(result, dict) else None


def _how(status: int | None) -> str:
    if status is not None and status < 0:
        return f"killed by {signal.Signals(-status).name}"
    return f"exit status {status}"


def _worker_main(
    args: argparse.Namespace,
    prepared: Prepared,
    worker: Worker,
    share: Share,
    report: int,
    inherited: Sequence[int],
    others: Sequence[socket.socket],
    supervisor: int,
) -> None:
    """The forked worker: forward its share, report its counts through ``report``, exit."""
    code = 70  # EX_SOFTWARE, should anything escape below
    try:
        for fd in inherited:
            os.close(fd)
        for sock in others:
            sock.close()
        stop, reload = SignalEvent(), SignalEvent()
        set_on(stop, *STOP_SIGNALS)
        set_on(reload, signal.SIGHUP)
        _die_with(supervisor)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        _tag_logs(worker)
        code = _forward_share(args, prepared, worker, share, (stop, reload), report)
    except UserError as exc:
        print(f"el-monitor: worker {worker.number}: {exc}", file=sys.stderr)
        code = 2
    except BaseException:
        log.exception("worker %d failed", worker.number)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _forward_share(
    args: argparse.Namespace,
    prepared: Prepared,
    worker: Worker,
    share: Share,
    events: tuple[threading.Event, threading.Event],
    report: int,
) -> int:
    spool_dir = worker.spool_dir(args.spool_dir)
    settings = dataclasses.replace(
        prepared.settings,
        spool_dir=spool_dir,
        instance=worker.instance(prepared.settings.instance),
        log_suffix=worker.suffix,
    )
    result = forward_with(
        args,
        prepared._replace(settings=settings),
        lambda: open_target(args, spool_dir),
        events,
        lambda: open_input(args, spool_dir, share),
        pid_path=None,
    )
    record = {"counts": snapshot_record(result.counts), "pending": result.pending}
    data = memoryview(orjson.dumps(record))
    while data:
        data = data[os.write(report, data) :]
    os.close(report)
    return 1 if result.pending else 0


def _die_with(supervisor: int) -> None:
    """Be sent SIGTERM when the supervisor dies (Linux): drain and exit, keep no port."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _tag_logs(worker: Worker) -> None:
    """Say which worker wrote each log line."""
    for handler in logging.getLogger().handlers:  # stderr, journald or syslog: as configured
        given = handler.formatter._fmt if handler.formatter is not None else None
        form = (given or LOG_FORMAT).replace("%(name)s", f"worker {worker.number} %(name)s")
        handler.setFormatter(logging.Formatter(form))
