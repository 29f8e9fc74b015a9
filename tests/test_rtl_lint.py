"""Every RTL library module passes `verilator --lint-only -Wall` with its default parameters, no waivers."""
import subprocess

import pytest

from bidrn_hw.rtl_sim.verilator import HLS_DIR, verilator_env

MODULES = sorted(HLS_DIR.glob("*.sv"))


def test_library_is_not_empty():
    names = {p.stem for p in MODULES}
    assert {"mvau", "thresholding", "swg", "fmpadding", "addstreams", "duplicatestreams", "pool", "fifo",
            "upsampler", "globalaccpool"} <= names


@pytest.mark.parametrize("source", MODULES, ids=[p.stem for p in MODULES])
def test_lint_clean(source):
    env = verilator_env()
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", source.stem, str(source)],
                          env=env, capture_output=True, text=True)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("%")]
    assert proc.returncode == 0 and not warnings, "\n".join(warnings)
