"""RTL generation: one module instance per FINN HW layer, stitched into an AXI-Stream top."""
from ..flow import finn_compat  # noqa: F401  (finn-plus fix, see there)
