"""DuplicateStreams (a fork: every tensor between two layers has one consumer) -> ``hls/duplicatestreams.sv``
with 1..3 outputs. Folding: PE divides NumChannels. Cycles: one beat per fold (FINN's formula)."""
from __future__ import annotations

from ..errors import UnsupportedError
from .base import NodeParamsKind, check_divides, int_dtype, node_name, zero

MAX_DUPLICATE_OUTPUTS = 3


def duplicatestreams_params(op) -> tuple[str, dict]:
    n_out = op.get_nodeattr("NumOutputStreams")
    if not 1 <= n_out <= MAX_DUPLICATE_OUTPUTS:
        raise UnsupportedError(f"node {node_name(op)}: NumOutputStreams={n_out}; duplicatestreams.sv has "
                               f"1..{MAX_DUPLICATE_OUTPUTS} outputs")
    ch, pe = op.get_nodeattr("NumChannels"), op.get_nodeattr("PE")
    check_divides(op, ch, pe, "PE")
    dt = int_dtype(op, op.get_input_datatype(), "input")
    return "duplicatestreams", dict(N_OUT=n_out, DATA_BITS=pe * dt.bitwidth())


class DuplicateStreams(NodeParamsKind):
    op_types = ("DuplicateStreams",)
    modules = ("duplicatestreams",)
    params = staticmethod(duplicatestreams_params)

    def formula(self, model, node, inst, family, part):
        _, p = duplicatestreams_params(inst)
        cost = zero()
        cost["LUT"] = 2 * p["N_OUT"] + 2
        cost["FF"] = p["N_OUT"] * (p["DATA_BITS"] + 1)
        return cost, "own"

    def terms(self, module, p, content):
        return {"one": 1, "mux": p["N_OUT"], "regs": p["N_OUT"] * (p["DATA_BITS"] + 1)}, []


KIND = DuplicateStreams()
