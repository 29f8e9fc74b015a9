"""Vivado project/IP export of a build directory: RTL, an XDC clock constraint and build.tcl (create project,
package the top as IP with AXI-Stream interfaces, synthesis and implementation with reports). Vivado itself is
not needed to export; run the script where Vivado is installed."""
from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("dir", help="build directory (accel.json, rtl/filelist.f)")
    parser.add_argument("--part", default="xczu7ev", help="xc7z020 | xczu7ev | xcu250, or its full Vivado part name")
    parser.add_argument("--out", default=None, help="output folder (default: DIR/vivado)")
    parser.add_argument("--freq-mhz", type=float, default=200.0, help="clock constraint on ap_clk (default: 200)")
    parser.add_argument("--jobs", type=int, default=4, help="parallel jobs of the Vivado runs (default: 4)")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty folder that is not a Vivado export (nothing of yours is "
                             "removed)")


def run(args) -> dict:
    # lazy: qonnx and onnx (fpga.vivado reads the layers), kept off the CLI's startup
    from ..fpga.vivado import export_vivado

    return export_vivado(args.dir, part=args.part, out=args.out, freq_mhz=args.freq_mhz, jobs=args.jobs,
                         force=args.force)
