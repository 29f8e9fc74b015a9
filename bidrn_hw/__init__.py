"""bidrn-hw: BiDRN from quantization-aware training to FPGA."""
__version__ = "0.1.0"
