"""Measured Xilinx resources (Yosys synth_xilinx): every layer out of context and the top, beside estimates.json;
writes DIR/synth/report.json and report.md."""
from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("dir", help="build directory (accel.json, rtl/filelist.f, estimates.json)")
    parser.add_argument("--part", default="xczu7ev", help="xc7z020 | xczu7ev | xcu250 (default: xczu7ev)")
    parser.add_argument("--uram", action="store_true", help="let Yosys map large memories to URAM288 (UltraScale+ parts)")
    parser.add_argument("--top-only", action="store_true", help="synthesize the top only, not each layer")


def run(args) -> dict:
    # lazy: qonnx and onnx (fpga.xilinx reads the layers), kept off the CLI's startup
    from ..fpga.xilinx import synth_design

    result = synth_design(args.dir, part=args.part, uram=args.uram, layers=not args.top_only)
    if not args.json:  # the readable form: the table, not the raw cell counts
        print(open(result["report_md"]).read())
        return {"report": result["report"], "report_md": result["report_md"], "fits": result["fits"],
                "top": result["top"]["measured"]}
    return result
