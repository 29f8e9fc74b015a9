"""The Verilator build cache stays under its size limit: least recently used builds go first."""
import json
import os
import time

from bidrn_hw.rtl_sim import verilator


def fake_build(root, name, size, age_s, marker=True, old_marker=False):
    d = root / name
    d.mkdir(parents=True)
    (d / "model.bin").write_bytes(b"x" * size)
    if marker:
        done = d / ".built"
        done.write_text("abc" if old_marker else json.dumps({"key": "abc", "bytes": size}))
        stamp = time.time() - age_s
        os.utime(done, (stamp, stamp))
    stamp = time.time() - age_s
    os.utime(d, (stamp, stamp))
    return d


def test_least_recently_used_builds_go_until_under_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("BIDRN_HW_CACHE", str(tmp_path))
    root = verilator.cache_root()
    oldest = fake_build(root, "a-1", 1000, 5 * 3600)
    older = fake_build(root, "b-2", 1000, 4 * 3600, old_marker=True)  # a marker from before sizes were kept
    failed = fake_build(root, "c-3", 500, 2 * 3600, marker=False)      # an unfinished build
    kept = fake_build(root, "d-4", 1000, 3 * 3600)
    recent = fake_build(root, "e-5", 1000, 60)                         # used a minute ago
    (root / "a-1.log").write_text("log")
    removed = verilator.evict_cache(limit_bytes=2600, keep=kept)
    assert removed == [failed, oldest, older]  # unfinished first, then by last use; stops under the limit
    assert not (root / "a-1.log").exists()
    assert kept.exists() and recent.exists()
    assert verilator.evict_cache(limit_bytes=2600, keep=kept) == []   # 2,000 bytes left: nothing to do
    # recent builds stay even over the limit
    assert verilator.evict_cache(limit_bytes=0) == [kept] and recent.exists()


def test_locked_builds_stay(tmp_path, monkeypatch):
    from filelock import FileLock

    monkeypatch.setenv("BIDRN_HW_CACHE", str(tmp_path))
    d = fake_build(verilator.cache_root(), "a-1", 1000, 5 * 3600)
    with FileLock(str(d) + ".lock"):  # another process building or reading it
        assert verilator.evict_cache(limit_bytes=0) == []
    assert verilator.evict_cache(limit_bytes=0) == [d]
