"""Running a command under strace (Linux only): the command line that traces it, and
whether tracing can work here. ``parse`` reads the log it writes; docs/trace.md says what
a trace can and cannot see."""

from __future__ import annotations

import os
import shutil
import subprocess

from dws.errors import UsageError

# Only the calls that name, create, remove or execute files, change directory or create
# processes (to learn who inherits which cwd). Probes (stat, access, readlink) are left out:
# they read no content, and every traced call slows the command down. "?" marks calls that
# some architectures lack, so strace does not refuse the list there.
TRACED_CALLS = (
    "?open,openat,?openat2,?creat,execve,?execveat,chdir,fchdir,"
    "?rename,renameat,?renameat2,?link,linkat,?symlink,symlinkat,"
    "?unlink,unlinkat,?mkdir,mkdirat,?rmdir,truncate,"
    "clone,?clone3,?fork,?vfork"
)


class StraceMissingError(UsageError):
    """``--trace`` needs strace, which is not installed."""


def strace_argv(argv: list[str], log_path: str) -> list[str]:
    """The command line that runs ``argv`` under strace, logging to ``log_path``."""
    strace = shutil.which("strace")
    if strace is None:
        raise StraceMissingError(
            "--trace needs strace, which is not installed: install it (Debian/Ubuntu: "
            "apt install strace) or classify the arguments with -i/-o instead"
        )
    return [
        strace,
        *("-f", "-qq", "-y", "-s", "65535", "--seccomp-bpf"),
        *("-e", "signal=none", "-e", f"trace={TRACED_CALLS}", "-o", log_path, "--"),
        *argv,
    ]


def strace_unavailable_reason() -> str | None:
    """Why ``--trace`` cannot work here (no strace, or ptrace refused), or None if it can."""
    strace = shutil.which("strace")
    if strace is None:
        return "strace is not installed (apt install strace)"
    try:
        proc = subprocess.run(
            strace_argv(["true"], os.devnull),
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"strace could not run: {exc}"
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        detail = lines[0] if lines else f"exit code {proc.returncode}"
        return (
            f"strace cannot trace here ({detail}); ptrace may be forbidden "
            "(in a container, add --cap-add SYS_PTRACE)"
        )
    return None
