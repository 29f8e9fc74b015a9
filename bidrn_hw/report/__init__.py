"""Human-readable reports: the demo's self-contained DIR/report.html (:mod:`.html`) and its figures
(:mod:`.figures`)."""
from .html import render, write_report

__all__ = ["render", "write_report"]
