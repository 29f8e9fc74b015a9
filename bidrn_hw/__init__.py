"""bidrn-hw: BiDRN from quantization-aware training to FPGA."""
__version__ = "0.1.0"

import warnings as _warnings

# Brevitas warns at import about an optional CUDA kernel package it does not need here.
_warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")
