"""Load a page in headless Chromium (Debian's ``chromium``; ``make browser`` installs it) and report what a
reader would see: the page's console messages (errors, uncaught exceptions), whether every image decoded
(the report's inline script writes ``data-images="<decoded>/<total>"`` on ``<html>`` after the load event),
and optionally a screenshot. Used by the report's tests and to make docs/demo_report.png."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ToolError

CONSOLE_LINE = re.compile(r":CONSOLE[:(]\d*\)?\]?\s*(.*)")
IMAGES_ATTR = re.compile(r'<html[^>]*\bdata-images="(\d+)/(\d+)"')


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise ToolError("chromium not found: install it with `make browser` (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="bidrn-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ToolError(f"chromium did not finish within {timeout:.0f} s: {' '.join(cmd)}") from None


def check_page(path: Path | str, screenshot: Path | str | None = None, window: tuple[int, int] = (1280, 1900),
               timeout: float = 120.0) -> dict:
    """Returns ``{"images_loaded": k, "images": n, "console": [messages], "dom": html}`` (``images_loaded``
    is None when the page did not say, e.g. it has no such script or its script failed)."""
    url = Path(path).resolve().as_uri()
    run = _run(["--virtual-time-budget=10000", "--dump-dom", url], timeout)
    if run.returncode != 0 or "<html" not in run.stdout:
        raise ToolError(f"chromium --dump-dom {url} failed (exit {run.returncode}): {run.stderr[-2000:]}")
    console = [m.group(1).strip() for m in map(CONSOLE_LINE.search, run.stderr.splitlines()) if m]
    found = IMAGES_ATTR.search(run.stdout)
    result = {"images_loaded": int(found.group(1)) if found else None, "images": int(found.group(2)) if found else None,
              "console": console, "dom": run.stdout}
    if screenshot is not None:
        shot = Path(screenshot).resolve()
        shot.parent.mkdir(parents=True, exist_ok=True)
        run = _run([f"--screenshot={shot}", f"--window-size={window[0]},{window[1]}", "--hide-scrollbars",
                    "--virtual-time-budget=10000", url], timeout)
        if run.returncode != 0 or not shot.exists():
            raise ToolError(f"chromium --screenshot {url} failed (exit {run.returncode}): {run.stderr[-2000:]}")
        result["screenshot"] = str(shot)
    return result
