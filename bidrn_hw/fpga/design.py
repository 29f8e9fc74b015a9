"""A compiled build directory as the FPGA back ends see it: :func:`bidrn_hw.builddir.load_design` (the one
reader of ``accel.json`` + ``rtl/filelist.f``, shared with simulation), plus staging of the sources for a
tool run (:func:`stage_sources`): copies of every source in a work folder with the memory files they name
(relative to ``rtl/`` in the build directory) rewritten relative to the tool's working directory; see
``tools.py`` for why the YoWASP tools cannot open absolute paths under ``/tmp``.
"""
from __future__ import annotations

from pathlib import Path

from .. import builddir
from ..builddir import Build, Layer, Stream, load_design, read_filelist  # noqa: F401  (the back ends' API)
from .tools import tool_path

Design = Build


def stage_sources(design: Design, cwd: Path, sub: str = "src") -> list[Path]:
    """Copies of the sources under ``cwd/sub`` with the memory files they name made relative to ``cwd``."""
    return builddir.stage_sources(design, cwd / sub, lambda p: tool_path(p, cwd))


def source_aliases(design: Design, staged: list[Path], cwd: Path) -> dict[str, str]:
    """Staged source name (as the tool prints it) -> original path, for error messages."""
    return {tool_path(s, cwd): str(src) for s, src in zip(staged, design.sources)}


def tool_parameters(design: Design, layer: Layer, cwd: Path) -> dict:
    """A layer's parameters with the memory files they name made relative to the tool's cwd."""
    return builddir.resolved_parameters(design, layer, lambda p: tool_path(p, cwd))
