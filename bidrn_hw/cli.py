"""The `bidrn-hw` console script.

Each subcommand lives in ``bidrn_hw/commands/<name>.py`` and provides ``add_arguments(parser)`` and
``run(args) -> dict``. With ``--json`` the result dict is printed as one JSON object; otherwise as
readable lines. A :class:`bidrn_hw.errors.BidrnError` becomes a one-line message (or ``{"error": ...}``)
and its exit code, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .errors import BidrnError, InputFileError

COMMANDS = {
    "count": "parameters and OPs per the paper's convention",
    "export": "Brevitas -> QONNX per FPGA partition, with reference inputs/outputs",
    "compile": "QONNX model -> FINN dataflow graph, folding, RTL and estimates",
    "estimate": "latency, throughput and resources of a compiled design",
    "simulate": "Verilator run of a compiled design (compiled C++ driver or cocotb) against FINN's execution",
    "bitstream": "Yosys + nextpnr-ecp5 + ecppack bitstream",
    "synth": "Yosys synth_xilinx resource measurement",
    "vivado": "Vivado project/IP export",
    "bodymodel": "generate the stand-in SMPL-X body model (.npz)",
    "train": "quantization-aware training on synthetic data",
    "evaluate": "MPVPE / PA-MPVPE / PA-MPJPE of a checkpoint",
    "demo": "the main job: tiny BiDRN end to end",
}


def _load(name: str):
    try:
        return importlib.import_module(f"bidrn_hw.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"bidrn_hw.commands.{name}":
            return None
        raise


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with ``only`` of that command alone (the others are listed by name and
    help but their modules are not imported: some import torch, which costs seconds)."""
    parser = argparse.ArgumentParser(prog="bidrn-hw", description="BiDRN from quantization-aware training to FPGA")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        module = _load(name)
        if module is None:
            continue
        p = sub.add_parser(name, help=help_text, description=(module.__doc__ or help_text).strip())
        p.add_argument("--json", action="store_true", help="print one JSON object")
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def _print_human(result: dict, indent: str = "") -> None:
    for key, value in result.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_human(value, indent + "  ")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{indent}{key}: [{len(value)} entries]")
        else:
            print(f"{indent}{key}: {str(value).lower() if isinstance(value, bool) else value}")


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    chosen = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(only=chosen if chosen in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    # lazy: builddir's imports (~40 ms) only once a command runs, not for --help
    from . import builddir

    builddir.set_command_line(sys.argv[1:] if argv is None else argv)  # recorded in the folders we write
    try:
        result = args._module.run(args)
    except BidrnError as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "kind": type(exc).__name__}))
        else:
            print(f"bidrn-hw {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"bidrn-hw {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file that cannot be read or written (full disk, permissions): one line, no traceback
        msg = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
        if args.json:
            print(json.dumps({"error": msg, "kind": type(exc).__name__}))
        else:
            print(f"bidrn-hw {args.command}: error: {msg}", file=sys.stderr)
        return InputFileError.exit_code
    finally:
        builddir.set_command_line(None)
    if args.json:
        print(json.dumps(result, default=str))
    else:
        _print_human(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
