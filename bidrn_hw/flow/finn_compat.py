"""One fix to finn-plus 1.6.1, applied on import of :mod:`bidrn_hw.flow` and :mod:`bidrn_hw.rtlgen`.

The abstraction op ``ConvolutionInputGenerator`` declares the ``parallel_window`` attribute and calls
``self.use_parallel_window_output()`` in its folded output shape and stream width, but only its ``_rtl``
specialization defines that method, so the op as ``convert_to_hw`` emits it raises AttributeError for any
shape query. We keep the abstraction op (our RTL replaces FINN's), so it gets the specialization's
definition: the attribute, read as a bool.
"""
from __future__ import annotations


def _use_parallel_window_output(self) -> bool:
    return bool(self.get_nodeattr("parallel_window"))


def apply() -> None:
    try:
        # lazy: finn-plus is optional: without it there is nothing to fix
        from finn.custom_op.fpgadataflow.convolutioninputgenerator import ConvolutionInputGenerator
    except ImportError:  # finn-plus absent: nothing to fix
        return
    if not hasattr(ConvolutionInputGenerator, "use_parallel_window_output"):
        ConvolutionInputGenerator.use_parallel_window_output = _use_parallel_window_output


apply()
