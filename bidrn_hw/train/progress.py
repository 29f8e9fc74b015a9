"""Rich progress bars on stderr for training and data rendering, or a silent stand-in when they are off."""
from __future__ import annotations


def progress_bar(enabled: bool, *, with_info: bool = False):
    """A transient rich Progress (description, bar, n/N, times; ``with_info``: elapsed time and a free-text
    ``info`` field too), or :class:`NoProgress` when ``enabled`` is false."""
    # lazy: rich.progress (~0.2 s), only when a progress bar is shown
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    if not enabled:  # a disabled rich Progress still prints newlines when it stops
        return NoProgress()
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}")] if with_info \
        else [TimeRemainingColumn()]
    return Progress(*columns, console=Console(stderr=True), transient=True)


class NoProgress:
    """Stands in for a rich Progress when progress is off."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *args, **kwargs):
        return 0

    def update(self, *args, **kwargs):
        pass

    def advance(self, *args, **kwargs):
        pass
