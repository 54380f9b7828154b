"""Real filesystems that fail: a small tmpfs a test can fill, and a read-only bind mount.

Both need root (the tests run as root in CI and on the dev box); without it the test is
skipped with the reason.  Each unmounts in a ``finally``, lazily if a child still holds a file
open there, so a failed test leaves no mount behind.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        raise OSError(f"{' '.join(args)}: {done.stderr.strip()}")


def _need_root(what: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root (mount); run the tests as root to include it")


def _unmount(directory: Path) -> None:
    try:
        _run("umount", str(directory))
    except OSError:
        _run("umount", "-l", str(directory))  # a child still holds a file there


@contextmanager
def small_tmpfs(directory: Path, size: str = "1m") -> Iterator[Path]:
    """``directory`` as a fresh tmpfs of ``size`` bytes (``mount -t tmpfs -o size=…``)."""
    _need_root("a small tmpfs")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory))
    except OSError as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        yield directory
    finally:
        _unmount(directory)


@contextmanager
def read_only(directory: Path) -> Iterator[Path]:
    """``directory`` bound onto itself read-only while the block runs; writable again after."""
    _need_root("a read-only bind mount")
    try:
        _run("mount", "--bind", str(directory), str(directory))
    except OSError as exc:
        pytest.skip(f"cannot bind-mount here: {exc}")
    try:
        _run("mount", "-o", "remount,bind,ro", str(directory))
        yield directory
    finally:
        _unmount(directory)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem under ``directory`` has no space left; returns it
    (delete it to free the space)."""
    filler = directory / "filler"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        # The last partial block: whatever bytes are left.
        try:
            while True:
                out.write(b"\0" * 512)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler
