"""A small CPU z-buffer rasterizer (numpy, vectorized, no display): flat-shaded triangles over a background.

Pixel centres are at (x + 0.5, y + 0.5). Each triangle is expanded to the pixel centres inside its bounding
box, tested with barycentric (edge-function) coordinates, and the nearest fragment per pixel wins (a
lexicographic sort by pixel then depth, so the result does not depend on numpy's scatter order). Triangles
are two-sided: shading uses |n . l| so that a mesh's winding does not matter.
"""
from __future__ import annotations

import numpy as np


def project(points: np.ndarray, focal: float, center: tuple[float, float]) -> np.ndarray:
    """Pinhole projection of camera-space points (…, 3) (OpenCV axes: x right, y down, z forward) to pixels."""
    z = np.maximum(points[..., 2:3], 1e-6)
    return points[..., :2] / z * focal + np.asarray(center)


def face_shading(verts: np.ndarray, faces: np.ndarray, light: np.ndarray, ambient: float) -> np.ndarray:
    """Per-face Lambert factor in [ambient, 1] from camera-space face normals (two-sided)."""
    tri = verts[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return ambient + (1 - ambient) * np.abs(n @ light)


def rasterize(pix: np.ndarray, depth: np.ndarray, faces: np.ndarray, height: int, width: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Visible face per pixel.

    ``pix`` (V, 2) projected vertices in pixels, ``depth`` (V,) camera z. Returns ``face_id`` (H*W,) int64 with
    -1 for background, and ``zbuf`` (H*W,) (inf for background).
    """
    tri = pix[faces]                                    # (F, 3, 2)
    tz = depth[faces]                                   # (F, 3)
    xs, ys = tri[..., 0].T, tri[..., 1].T               # (3, F) each: cheaper reductions than along axis 1
    x0 = np.ceil(np.minimum(np.minimum(xs[0], xs[1]), xs[2]) - 0.5).astype(np.int64).clip(0, width)
    x1 = np.floor(np.maximum(np.maximum(xs[0], xs[1]), xs[2]) - 0.5).astype(np.int64).clip(-1, width - 1)
    y0 = np.ceil(np.minimum(np.minimum(ys[0], ys[1]), ys[2]) - 0.5).astype(np.int64).clip(0, height)
    y1 = np.floor(np.maximum(np.maximum(ys[0], ys[1]), ys[2]) - 0.5).astype(np.int64).clip(-1, height - 1)
    e1 = tri[:, 1] - tri[:, 0]
    e2 = tri[:, 2] - tri[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    keep = (x1 >= x0) & (y1 >= y0) & (np.abs(area) > 1e-12) & (np.minimum(np.minimum(tz[:, 0], tz[:, 1]), tz[:, 2]) > 0)
    fid = np.flatnonzero(keep)
    face_id = np.full(height * width, -1, dtype=np.int64)
    zbuf = np.full(height * width, np.inf)
    if fid.size == 0:
        return face_id, zbuf
    nx = x1[fid] - x0[fid] + 1
    count = nx * (y1[fid] - y0[fid] + 1)
    f = np.repeat(fid, count)
    local = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    nxf = np.repeat(nx, count)
    px = x0[f] + local % nxf
    py = y0[f] + local // nxf
    # barycentric coordinates of the pixel centre
    dx = px + 0.5 - tri[f, 0, 0]
    dy = py + 0.5 - tri[f, 0, 1]
    inv = 1.0 / area[f]
    b1 = (dx * e2[f, 1] - dy * e2[f, 0]) * inv
    b2 = (e1[f, 0] * dy - e1[f, 1] * dx) * inv
    b0 = 1 - b1 - b2
    inside = (b0 >= 0) & (b1 >= 0) & (b2 >= 0)
    if not inside.any():
        return face_id, zbuf
    f, px, py = f[inside], px[inside], py[inside]
    z = b0[inside] * tz[f, 0] + b1[inside] * tz[f, 1] + b2[inside] * tz[f, 2]
    p = py * width + px
    order = np.lexsort((z, p))
    p_sorted = p[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = p_sorted[1:] != p_sorted[:-1]
    win = order[first]
    face_id[p[win]] = f[win]
    zbuf[p[win]] = z[win]
    return face_id, zbuf


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random linear gradient between two colours, optionally with a few soft blobs, plus pixel noise."""
    c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    t = (np.cos(angle) * xs / width + np.sin(angle) * ys / height)
    t = (t - t.min()) / max(np.ptp(t), 1e-6)
    img = c0 + (c1 - c0) * t[..., None]
    for _ in range(rng.integers(0, 4)):  # soft blobs: clutter that is not a body
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.05, 0.3) * max(height, width)
        blob = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r))
        img = img + (rng.uniform(0, 1, 3) - img) * blob[..., None] * rng.uniform(0.3, 0.9)
    return img


def render(verts: np.ndarray, faces: np.ndarray, face_colors: np.ndarray, focal: float,
           center: tuple[float, float], height: int, width: int, bg: np.ndarray, light: np.ndarray,
           ambient: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Render camera-space ``verts`` over ``bg`` (H, W, 3) in [0, 1]; returns (image (H, W, 3), mask (H, W))."""
    pix = project(verts, focal, center)
    face_id, _ = rasterize(pix, verts[:, 2], faces, height, width)
    img = bg.reshape(-1, 3).copy()
    hit = face_id >= 0
    visible, inverse = np.unique(face_id[hit], return_inverse=True)  # shade only the faces that show
    shade = face_shading(verts, faces[visible], light, ambient)
    img[hit] = face_colors[visible][inverse] * shade[inverse, None]
    return img.reshape(height, width, 3), hit.reshape(height, width)
