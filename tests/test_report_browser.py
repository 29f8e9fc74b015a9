"""The headless-Chromium check the demo report's test relies on (bidrn_hw.report.browser) sees what it must:
console errors and uncaught exceptions, images that do not decode, and a page that never reports."""
import base64
import io

import numpy as np
import pytest

from bidrn_hw.report.browser import check_page, find_chromium
from bidrn_hw.report.html import SCRIPT



def png_bytes() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((8, 12, 3), 200, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def page(tmp_path, body: str, name: str = "p.html"):
    path = tmp_path / name
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body>{body}"
                    f"<script>{SCRIPT}</script></body></html>")
    return path


def data_img() -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(png_bytes()).decode()}">'


def test_clean_page_passes(tmp_path):
    assert find_chromium(), "chromium is missing: run `make browser`"
    result = check_page(page(tmp_path, data_img() * 2))
    assert result["console"] == [] and result["images"] == 2 and result["images_loaded"] == 2


def test_console_error_and_uncaught_exception_are_seen(tmp_path):
    result = check_page(page(tmp_path, data_img() + "<script>console.error('report broke');</script>"
                                       "<script>undefinedFunction();</script>"))
    joined = "\n".join(result["console"])
    assert "report broke" in joined and "undefinedFunction" in joined


def test_broken_image_is_counted(tmp_path):
    result = check_page(page(tmp_path, data_img() + '<img src="data:image/png;base64,AAAA">'))
    assert result["images"] == 2 and result["images_loaded"] == 1


def test_page_without_the_check_script_reports_nothing(tmp_path):
    path = tmp_path / "bare.html"
    path.write_text("<!doctype html><html><body>" + data_img() + "</body></html>")
    result = check_page(path)
    assert result["images_loaded"] is None and result["images"] is None


def test_screenshot_is_written(tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    check_page(page(tmp_path, "<h1>hello</h1>" + data_img()), screenshot=shot, window=(640, 480))
    with Image.open(shot) as im:
        assert im.size == (640, 480)
