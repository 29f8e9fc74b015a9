"""The demo's resumable stages: each stage runs once and its result is recorded in ``DIR/stages.json``
(:class:`Stages`); artifacts are written atomically, so an interrupted demo never leaves a file that looks
finished; what a stage prints goes to ``DIR/logs/<stage>.log``."""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def atomic_save(path: Path, writer) -> None:
    """``writer(tmp_path)`` writes the file; it then replaces ``path`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp{os.getpid()}.{path.name}")  # keeps the suffix (np.save / PIL need it)
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_dir(path: Path):
    """Yield a fresh temporary directory beside ``path``; on success it replaces ``path`` (removed first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------
class Stages:
    """Runs named stages once. A finished stage's result is stored in DIR/stages.json with a ``run_id``;
    a stage is redone when it is missing there, when its ``key`` (what it depends on outside the demo, e.g.
    the image) changed, when one of its files is gone, or when a stage it depends on has been redone since
    (its recorded ``deps`` no longer match their run ids)."""

    def __init__(self, out: Path, fresh: bool):
        self.out = out
        self.file = out / "stages.json"
        self.done: dict = {}
        if not fresh and self.file.exists():
            try:
                self.done = json.loads(self.file.read_text())
            except json.JSONDecodeError:
                self.done = {}  # an unreadable record: every stage runs again
        self.order: list[str] = []
        self.ran: list[str] = []

    def _save(self) -> None:
        atomic_write_text(self.file, json.dumps(self.done, indent=2, default=str))

    def is_done(self, name: str, key=None, files=(), deps=()) -> bool:
        rec = self.done.get(name)
        if rec is None or rec.get("key") != _jsonable(key):
            return False
        if rec.get("deps") != {d: self.done.get(d, {}).get("run_id") for d in deps}:
            return False
        return all((self.out / f).exists() for f in files)

    def run(self, name: str, fn, key=None, files=(), deps=(), on_start=None) -> dict:
        self.order.append(name)
        if self.is_done(name, key, files, deps):
            return self.done[name]
        if name in self.done:  # about to be redone: never leave a record that outlives its files
            del self.done[name]
            self._save()
        if on_start is not None:
            on_start(name)
        start = time.time()
        with stage_log(self.out / "logs" / f"{name.replace(' ', '_')}.log"):
            result = dict(fn())
        result["seconds"] = round(time.time() - start, 2)
        result["key"] = _jsonable(key)
        result["deps"] = {d: self.done[d]["run_id"] for d in deps}
        result["run_id"] = uuid.uuid4().hex[:12]
        self.done[name] = result
        self._save()
        self.ran.append(name)
        return result


@contextmanager
def stage_log(path: Path):
    """What a stage prints (FINN's passes print a lot), logs (FINN's logger has no handler of its own, so
    Python would print its warnings on stderr) and warns goes to ``path``, not between the progress lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    with open(path, "w") as log, contextlib.redirect_stdout(log), warnings.catch_warnings(record=True) as caught:
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        warnings.simplefilter("always")
        try:
            yield
        finally:
            root.removeHandler(handler)
            for w in caught:
                log.write(f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}\n")


def _jsonable(value):
    return json.loads(json.dumps(value, default=str)) if value is not None else None
