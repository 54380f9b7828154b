"""``el-monitor validate``: what the forwarder would make of some events, every error listed.

Reads capsules (or raw lines with ``--format``, or bare events with ``--schema``/``--revision``)
from a file or stdin and judges each with the forwarder's pipeline (``ingest.verdicts``).
Exit 0 when all are valid, 1 when any is not, 2 on usage errors (``main``'s ``UserError``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import BinaryIO

from el_monitor.cli.options import Commands, add_registry_options
from el_monitor.errors import UserError


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "validate",
        help="validate events as the forwarder would, listing every error",
        description="Validate events as the forwarder does (same capsule rules, same compiled "
        "validators) and print, for each invalid one, its line number, schema and revision, "
        "and every error with its JSON path, the failing value and the schema's description. "
        "Exit 0 when all are valid, 1 when any is not, 2 on usage errors.",
    )
    add_registry_options(parser)
    parser.add_argument(
        "file", nargs="?", default="-", metavar="FILE|-", help="events, one a line (- : stdin)"
    )
    parser.add_argument(
        "--format",
        default="json",
        help="'json' (one capsule per line, the default) or an EventLogging format string, "
        "e.g. '%%q %%{recvFrom}s %%{seqId}d %%t %%h %%{userAgent}i' for varnish lines",
    )
    parser.add_argument("--schema", metavar="NAME", help="the lines are bare events of NAME")
    parser.add_argument("--revision", metavar="REV", help="the revision of --schema")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per line judged, for tools"
    )
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from el_monitor.cli.verdict_text import verdict_lines
    from el_monitor.ingest.verdicts import Judge, bare_capsule
    from el_monitor.schema.registry import open_registry, require_schemas

    if (args.schema is None) != (args.revision is None):
        raise UserError("--schema and --revision go together: give both or neither")
    if args.schema is not None and args.format != "json":
        raise UserError("bare events (--schema) are JSON: leave --format out")
    registry = open_registry(args.schemas, args.schema_cache)
    require_schemas(registry, args.schemas)
    if args.schema is not None and registry.get(args.schema, args.revision) is None:
        raise UserError(
            f"schema {args.schema} revision {args.revision} is not in {args.schemas}; "
            "check --schema and --revision"
        )
    judge = Judge(registry, args.format)
    colour = not args.json and sys.stdout.isatty()
    total = invalid = 0
    with _opened(args.file) as stream:
        for number, line in _lines(stream):
            if args.schema is not None:
                line = bare_capsule(line, args.schema, args.revision)
            verdict = judge.judge(line)
            total += 1
            invalid += not verdict.valid
            if args.json:
                print(json.dumps({"line": number, **verdict.as_json()}, ensure_ascii=False))
            elif not verdict.valid:
                print("\n".join(verdict_lines(f"line {number}", verdict, colour=colour)))
    if not args.json:
        print(
            f"{total} event{'' if total == 1 else 's'}: {total - invalid} valid, {invalid} invalid"
        )
    return 1 if invalid else 0


class _opened:
    """The input as a binary stream: stdin for ``-``; a file that cannot be read is one line."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stream: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if self.name == "-":
            return sys.stdin.buffer
        try:
            self.stream = open(self.name, "rb")  # noqa: SIM115 (closed by __exit__)
        except OSError as exc:
            raise UserError(f"cannot read {self.name}: {exc.strerror}") from None
        return self.stream

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None:
            self.stream.close()


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Numbered lines without their line ending; blank lines are skipped, not judged."""
    for number, line in enumerate(stream, 1):
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield number, line
