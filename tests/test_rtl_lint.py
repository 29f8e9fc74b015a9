"""Every RTL library module passes `verilator --lint-only -Wall` with its default parameters (the few waivers are commented in the sources)
(modules it instantiates are found in the library by file name: ``-y``)."""
import subprocess

import pytest

from bidrn_hw.rtl_sim.verilator import HLS_DIR, verilator_env

MODULES = sorted(HLS_DIR.glob("*.sv"))


def test_library_is_not_empty():
    names = {p.stem for p in MODULES}
    assert {"mvau", "thresholding", "swg", "fmpadding", "addstreams", "duplicatestreams", "pool", "fifo",
            "upsampler", "globalaccpool"} <= names


# Parameters that elaborate code the defaults leave out (the MVAU's threshold search, computed thresholds,
# packed products).
EXTRA = [("mvau", {"N_STEPS": 7, "THR_BITS": 17, "OUT_BITS": 3}), ("mvau", {"N_STEPS": 1, "OUT_BITS": 1, "PE": 1}),
         ("threshold_search", {"N_STEPS": 255, "PE": 3, "NF": 5, "OUT_BITS": 8}),
         ("threshold_search", {"N_STEPS": 30, "PE": 2, "NF": 4, "OUT_BITS": 8, "SHARED": 1}),
         ("threshold_search", {"N_STEPS": 30, "PE": 2, "NF": 4, "OUT_BITS": 8, "BASE_BITS": 5}),
         ("threshold_lines", {"N_STEPS": 255, "PE": 3, "NF": 5, "OUT_BITS": 8, "VAL_BITS": 20, "M_BITS": 25,
                              "C_BITS": 44, "SHIFT": 35}),
         ("threshold_lines", {"N_STEPS": 255, "PE": 2, "NF": 4, "OUT_BITS": 8, "LINES": 2, "M_BITS": 12,
                              "C_BITS": 20, "SHIFT": 14}),
         ("mvau", {"N_STEPS": 31, "OUT_BITS": 5, "LINES": 2, "M_BITS": 9, "C_BITS": 17, "SHIFT": 9}),
         ("thresholding", {"N_STEPS": 31, "OUT_BITS": 5, "LINES": 1, "M_BITS": 9, "C_BITS": 17, "SHIFT": 9}),
         ("mvau", {"PACK": 1, "IN_BITS": 8, "W_BITS": 8, "ACC_BITS": 20, "OUT_BITS": 20}),
         ("mvau", {"PACK": 1, "PE": 3, "MH": 6, "IN_SIGNED": 0, "W_SIGNED": 0}),
         ("mvau", {"RES_TYPE": '"lut"', "W_BIPOLAR": 1, "W_BITS": 1, "W_SIGNED": 0}),
         ("mvau", {"W_BIPOLAR": 1, "W_BITS": 1, "W_SIGNED": 0}),
         ("mvau_residual", {"N_STEPS": 7, "THR_BITS": 17, "Y_BITS": 3, "SKIP_BITS": 4, "SKIP_SIGNED": 0, "OUT_BITS": 4,
                            "SAT_LO": -8, "SAT_HI": 7, "OFFSET": -2})]


@pytest.mark.parametrize("source,params", [(p, {}) for p in MODULES] + [(HLS_DIR / f"{m}.sv", g) for m, g in EXTRA],
                         ids=[p.stem for p in MODULES] + [f"{m}-" + "-".join(f"{k}{v}" for k, v in g.items())
                                                           for m, g in EXTRA])
def test_lint_clean(source, params):
    env = verilator_env()
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "-y", str(HLS_DIR), "--top-module", source.stem,
                           *[f"-G{k}={v}" for k, v in params.items()], str(source)],
                          env=env, capture_output=True, text=True)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("%")]
    assert proc.returncode == 0 and not warnings, "\n".join(warnings)
