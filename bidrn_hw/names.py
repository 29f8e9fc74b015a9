"""The one place where a name from a file or an option is checked before it reaches generated Tcl, Verilog or
a shell command line.

A build directory's ``accel.json`` (the top, clock, reset, stream, module and instance names; the string
parameters of its layers) is data a user may have received from someone else: a name such as
``accel_top; exec touch X; #`` written into Vivado's Tcl would run. Every such name is checked here as a
plain identifier (or a plain file name / part name) and refused otherwise, never quoted and hoped for.
"""
from __future__ import annotations

import re

from .errors import InputFileError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}\Z")
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}\Z")
_WORD = re.compile(r"[A-Za-z0-9_.\-]{0,255}\Z")


def identifier(value, what: str, error=InputFileError) -> str:
    """``value`` if it is a Verilog/Tcl identifier (letters, digits, ``_``; not starting with a digit)."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise error(f"{what}: {value!r} is not a plain identifier (letters, digits and _, not starting with a "
                    f"digit); refusing to write it into generated Tcl/Verilog")
    return value


def file_name(value, what: str, error=InputFileError) -> str:
    """``value`` if it is a bare file name (no directory, no quotes, braces, spaces or shell characters)."""
    if not isinstance(value, str) or not _FILE_NAME.match(value) or value in (".", ".."):
        raise error(f"{what}: {value!r} is not a plain file name (letters, digits, _ . -)")
    return value


def word(value, what: str, error=InputFileError) -> str:
    """``value`` if it is a string parameter safe inside a Verilog string or a Tcl word (letters, digits,
    ``_ . -``; may be empty)."""
    if not isinstance(value, str) or not _WORD.match(value):
        raise error(f"{what}: {value!r} holds characters that are not allowed in a generated string "
                    f"(only letters, digits and _ . -)")
    return value
