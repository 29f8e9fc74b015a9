"""ECP5 bitstream of a build directory: Yosys synth_ecp5 + nextpnr-ecp5 + ecppack on a board (default ULX3S),
with a byte-serial AXI-Stream shell on the pins (docs/fpga.md)."""
from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("dir", help="build directory (accel.json, rtl/filelist.f)")
    parser.add_argument("--device", default="ecp5-85k", help="ecp5-12k | ecp5-25k | ecp5-45k | ecp5-85k (default: ecp5-85k)")
    parser.add_argument("--board", default=None, help="board file in bidrn_hw/platforms (default: the first carrying the device, ulx3s)")
    parser.add_argument("--freq-mhz", type=float, default=None,
                        help="clock of the accelerator; other than the board oscillator, an ECP5 PLL makes it")
    parser.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default: 1)")


def run(args) -> dict:
    # lazy: the ECP5 flow's modules, kept off the CLI's startup
    from ..fpga.ecp5 import build_bitstream

    return build_bitstream(args.dir, device=args.device, board=args.board, freq_mhz=args.freq_mhz, seed=args.seed)
