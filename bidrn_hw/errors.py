"""Errors a user can act on. The CLI prints them as one line (or a JSON object) and exits non-zero."""


class BidrnError(Exception):
    """A bad input or a failed step, with a message naming the file, node or option involved. A subclass names
    its exit code as a class keyword, ``class X(BidrnError, exit_code=3)``, or keeps its base's."""

    exit_code = 2

    def __init_subclass__(cls, exit_code: int | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code


class UsageError(BidrnError):
    """Unknown config/variant/option, wrong shape or dtype."""


class InputFileError(BidrnError, exit_code=3):
    """A missing, unreadable or invalid input file (model, checkpoint, image, build directory)."""


class UnsupportedError(BidrnError, exit_code=4):
    """A node, op or folding the flow cannot map to hardware."""


class ToolError(BidrnError, exit_code=5):
    """An external tool (Verilator, Yosys, nextpnr, ecppack) failed; the message names its log."""


class MismatchError(BidrnError, exit_code=6):
    """Simulated hardware disagreed with the reference."""


class UnsupportedOpError(UnsupportedError, exit_code=2):
    """A node of the input graph the flow has no lowering for, found before any pass runs
    (``flow.supported``): a usage error of the model, so exit code 2 like the other input checks."""
