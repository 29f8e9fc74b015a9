"""fast_qonnx's linear bookkeeping gives qonnx's results (the lowering and export tests compare whole graphs)."""
import random

import pytest
from toposort import CircularDependencyError, toposort_flatten

from bidrn_hw.flow.fast_qonnx import _toposort_flatten


@pytest.mark.parametrize("cycles", [False, True])
def test_toposort_order_equals_toposort_package(cycles):
    rng = random.Random(1)
    raised = 0
    for _ in range(2000):
        n = rng.randint(1, 40)
        reach = 5 if cycles else 0  # dependencies on later items make cycles possible
        deps = {i: {rng.randrange(0, i + reach) for _ in range(rng.randint(0, 3)) if i + reach > 0}
                for i in range(n) if rng.random() < 0.9}
        try:
            expected = toposort_flatten(deps)
        except CircularDependencyError:
            raised += 1
            with pytest.raises(CircularDependencyError):
                _toposort_flatten(deps)
            continue
        assert _toposort_flatten(deps) == expected
    assert (raised > 100) == cycles
