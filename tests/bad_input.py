"""Helpers of the bad-input tables (tests/test_bad_input_*.py).

Each case runs the CLI entry point in-process (``bidrn_hw.cli.main``), like the console script minus the
interpreter start, and checks what a user sees: the documented exit code (docs/reliability.md), exactly one
``bidrn-hw CMD: error: ...`` line on stderr naming the file, node or option, no traceback, and that the
files the user had are byte for byte what they were (:func:`snapshot`). argparse's own errors (a non-number
for a number, an unknown choice) end the same way: exit code 2 and one ``error:`` line naming the option
after the usage line.
"""
from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from bidrn_hw.cli import main

EXIT = {"usage": 2, "input": 3, "unsupported": 4, "tool": 5, "mismatch": 6, "interrupted": 130}


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """(exit code, stderr, stdout) of ``bidrn-hw ARGV`` run in-process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 1
    cap = capsys.readouterr()
    return code, cap.err, cap.out


def error_line(err: str, command: str) -> str:
    """The one error line on stderr (argparse prints its usage line first)."""
    assert "Traceback" not in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith(f"bidrn-hw {command}: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def expect_error(capsys, code_name: str, needles, *argv) -> str:
    code, err, _ = run_cli(capsys, *argv)
    command = str(argv[0])
    line = error_line(err, command)
    assert code == EXIT[code_name], (code, line)
    for needle in ([needles] if isinstance(needles, str) else needles):
        assert str(needle) in line, (needle, line)
    return line


def snapshot(*roots: Path) -> dict:
    """sha256 and mode of every file (and the names of every folder) under ``roots``."""
    out = {}
    for root in roots:
        root = Path(root)
        if root.is_file():
            out[str(root)] = hashlib.sha256(root.read_bytes()).hexdigest()
            continue
        if not root.exists():
            out[str(root)] = None
            continue
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), stat.S_IMODE(p.stat().st_mode))
            else:
                out[str(p)] = "dir"
    return out


def no_leftovers(folder: Path) -> None:
    """No temporary sibling of ours left behind in ``folder``."""
    left = [p.name for p in Path(folder).iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert not left, left


def user_folder(path: Path) -> Path:
    """A folder of the user's: a thesis draft, a data file and a sub-folder."""
    path.mkdir(parents=True)
    (path / "thesis.tex").write_text("\\chapter{Results}\n")
    (path / "data.csv").write_text("a,b\n1,2\n")
    (path / "figures").mkdir()
    (path / "figures" / "plot.pdf").write_bytes(b"%PDF-1.4 keep")
    return path


def training_run(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "checkpoint.pt").write_bytes(b"PK\x03\x04 the user's weeks of training")
    (path / "train_log.jsonl").write_text('{"step": 1}\n')
    return path
