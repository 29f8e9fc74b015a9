"""Errors a user can act on. The CLI prints them as one line (or a JSON object) and exits non-zero."""


class BidrnError(Exception):
    """A bad input or a failed step, with a message naming the file, node or option involved."""

    exit_code = 2


class UsageError(BidrnError):
    """Unknown config/variant/option, wrong shape or dtype."""

    exit_code = 2


class InputFileError(BidrnError):
    """A missing, unreadable or invalid input file (model, checkpoint, image, build directory)."""

    exit_code = 3


class UnsupportedError(BidrnError):
    """A node, op or folding the flow cannot map to hardware."""

    exit_code = 4


class ToolError(BidrnError):
    """An external tool (Verilator, Yosys, nextpnr, ecppack) failed; the message names its log."""

    exit_code = 5


class MismatchError(BidrnError):
    """Simulated hardware disagreed with the reference."""

    exit_code = 6


class UnsupportedOpError(UnsupportedError):
    """A node of the input graph the flow has no lowering for, found before any pass runs
    (``flow.supported``): a usage error of the model, so exit code 2 like the other input checks."""

    exit_code = 2
