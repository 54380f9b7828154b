"""Running MariaDB's client tools: ``mariadb-dump`` into a file (sha256 and size taken as it is
written, through ``gzip -1`` unless told not to) and ``mariadb`` replaying a dump file.

The account goes in a defaults file only the current user can read, in a private temporary
directory removed afterwards: never on a command line, where ``ps`` shows it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, NamedTuple

from el_monitor.atomic import atomic_writer
from el_monitor.errors import UserError
from el_monitor.store.dumps import CLIENT_TOOL, DUMP_TOOL, Client, client_defaults

BLOCK = 1 << 20
GZIP = "gzip"
GZIP_LEVEL = 1  # fast: a dump is mostly repeated SQL and compresses well even at level 1


class Written(NamedTuple):
    sha256: str
    size: int
    exit_status: int
    error: str  # the tool's stderr when it failed


@contextlib.contextmanager
def defaults_file(url: str) -> Iterator[tuple[Path, str]]:
    """A ``[client]`` options file for ``url`` (0600, in a 0700 directory) and the URL's
    database, removed when the block ends."""
    client: Client = client_defaults(url)
    directory = tempfile.mkdtemp(prefix="el-monitor-client-")
    try:
        path = Path(directory) / "client.cnf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(client.defaults)
        yield path, client.database
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def tool_version(tool: str = DUMP_TOOL) -> str:
    """``mariadb-dump  Ver 10.19 Distrib 10.11.9-MariaDB ...``; a missing tool is a UserError."""
    if shutil.which(tool) is None:
        raise UserError(f"{tool} not found on PATH: install mariadb-client")
    done = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    return " ".join(done.stdout.split())


def dump_to_file(argv: Sequence[str], path: Path, compress: bool) -> Written:
    """Run ``argv`` (a dump tool writing SQL on stdout) into ``path`` (atomically: the file
    appears only when the tool succeeded), through ``gzip -1`` when ``compress`` (a process of
    its own: it packs while the tool dumps); sha256 and size are of the bytes on disk."""
    digest = hashlib.sha256()
    size = 0
    with tempfile.TemporaryFile() as errors:
        try:
            with atomic_writer(path) as file:
                with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors) as dump:
                    assert dump.stdout is not None
                    with _packer(dump.stdout, compress) as output:
                        while block := output.read(BLOCK):
                            digest.update(block)
                            size += len(block)
                            file.write(block)
                    status = dump.wait()
                if status != 0:
                    raise _Failed(status)
        except _Failed as failed:
            errors.seek(0)
            text = " ".join(errors.read().decode("utf-8", "replace").split())[:500]
            return Written("", 0, failed.status, text or f"exit status {failed.status}")
    return Written(digest.hexdigest(), size, 0, "")


@contextlib.contextmanager
def _packer(source: IO[bytes], compress: bool) -> Iterator[IO[bytes]]:
    """``source`` itself, or the output of ``gzip`` reading it (which must succeed)."""
    if not compress:
        yield source
        return
    if shutil.which(GZIP) is None:
        raise UserError(f"{GZIP} not found on PATH: install it, or dump with --no-compress")
    with subprocess.Popen([GZIP, f"-{GZIP_LEVEL}", "-n", "-c"], stdin=source,
                          stdout=subprocess.PIPE) as packer:  # fmt: skip
        source.close()  # gzip holds it now: the dump tool sees a closed pipe if gzip dies
        assert packer.stdout is not None
        yield packer.stdout
        if packer.wait() != 0:
            raise _Failed(packer.returncode)


class _Failed(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def load_file(argv: Sequence[str], path: Path) -> tuple[int, str]:
    """Replay a dump file (gzip or plain) through the client ``argv``: exit status and its
    stderr.  An interrupt kills the client before it propagates."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with tempfile.TemporaryFile() as errors:
        with subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=errors) as process:
            assert process.stdin is not None
            try:
                with opener(path, "rb") as source:
                    while block := source.read(BLOCK):
                        process.stdin.write(block)
                process.stdin.close()
            except BrokenPipeError:
                pass  # the client stopped reading: its status and stderr say why
            except BaseException:
                process.kill()
                raise
            status = process.wait()
        errors.seek(0)
        text = " ".join(errors.read().decode("utf-8", "replace").split())[:500]
    return status, text


def client_tool() -> str:
    if shutil.which(CLIENT_TOOL) is None:
        raise UserError(f"{CLIENT_TOOL} not found on PATH: install mariadb-client")
    return CLIENT_TOOL
