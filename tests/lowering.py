"""Helper of the lowering tests: a lowered graph's bytes, reproducible."""
from qonnx.core.modelwrapper import ModelWrapper


def lowered_bytes(model: ModelWrapper, fast: bool) -> bytes:
    """The lowered graph, with qonnx's random tensor names drawn from the same seed."""
    import copy
    import random

    import bidrn_hw.flow.lower as lower

    random.seed(0)
    model = copy.deepcopy(model)
    hw = lower.lower_to_hw(model) if fast else lower._lower_to_hw(model, None, None)
    return hw.model.SerializeToString()
