"""The demo report's figures, as PNG bytes (matplotlib, Agg): the input with the predicted mesh and boxes, the
frames each accelerator was fed, and per-layer cycles/resources of a compiled partition."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ..train.render import render

BOX_NAMES = ("left hand", "right hand", "face")
BOX_COLORS = ("tab:orange", "tab:cyan", "tab:pink")
MESH_COLOR = np.array([0.55, 0.75, 1.0])
UPSCALE = 4  # the tiny config's 96x128 image is rendered at 4x for legibility


def _plt():
    # lazy: matplotlib (~1.2 s), only when a figure is drawn
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: as matplotlib, after choosing the Agg backend

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    _plt().close(fig)
    return buf.getvalue()


def mesh_overlay(image: np.ndarray, vertices: np.ndarray, faces: np.ndarray, focal: float,
                 center: tuple[float, float], alpha: float = 0.7) -> np.ndarray:
    """``image`` (H, W, 3) uint8 upscaled by :data:`UPSCALE`, with the camera-space mesh rendered over it
    (flat-shaded, blended with ``alpha``); float (H', W', 3) in [0, 1]."""
    h, w = image.shape[:2]
    bg = np.asarray(Image.fromarray(image).resize((w * UPSCALE, h * UPSCALE), Image.BICUBIC), dtype=np.float64) / 255
    light = np.array([0.0, -0.5, -1.5])
    colors = np.tile(MESH_COLOR, (len(faces), 1))
    rendered, mask = render(vertices.astype(np.float64), faces, colors, focal * UPSCALE,
                            (center[0] * UPSCALE, center[1] * UPSCALE), h * UPSCALE, w * UPSCALE, bg,
                            light / np.linalg.norm(light), ambient=0.35)
    out = bg.copy()
    out[mask] = (1 - alpha) * bg[mask] + alpha * rendered[mask]
    return np.clip(out, 0, 1)


def _boxes(ax, boxes: np.ndarray, width: int, height: int, dashed: bool = False, labels: bool = True) -> None:
    # lazy: matplotlib, only when a figure is drawn
    from matplotlib.patches import Rectangle

    for (x0, y0, x1, y1), name, color in zip(boxes, BOX_NAMES, BOX_COLORS):
        ax.add_patch(Rectangle((x0 * width, y0 * height), (x1 - x0) * width, (y1 - y0) * height, fill=False,
                               lw=1.2 if dashed else 2, ls="--" if dashed else "-", ec=color))
        if labels:
            ax.text(x0 * width, y0 * height - 3, name, color=color, fontsize=8, va="bottom",
                    bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "lw": 0})


def overview(image: np.ndarray, prediction: dict, camera: tuple[float, tuple[float, float]],
             ground_truth: dict | None = None) -> bytes:
    """Input with boxes | predicted mesh overlaid | ground-truth mesh overlaid (synthetic input only)."""
    plt = _plt()
    focal, center = camera
    h, w = image.shape[:2]
    panels = 3 if ground_truth is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(2.9 * panels, 4.3))
    big = np.asarray(Image.fromarray(image).resize((w * UPSCALE, h * UPSCALE), Image.BICUBIC))
    axes[0].imshow(big)
    _boxes(axes[0], prediction["boxes"], w * UPSCALE, h * UPSCALE)
    if ground_truth is not None and "boxes" in ground_truth:
        _boxes(axes[0], ground_truth["boxes"], w * UPSCALE, h * UPSCALE, dashed=True, labels=False)
    axes[0].set_title("input, predicted boxes" + ("\n(ground truth dashed)" if ground_truth is not None else ""),
                      fontsize=9)
    axes[1].imshow(mesh_overlay(image, prediction["vertices"], prediction["faces"], focal, center))
    axes[1].set_title("predicted mesh (from the RTL)", fontsize=9)
    if ground_truth is not None:
        axes[2].imshow(mesh_overlay(image, ground_truth["vertices"], prediction["faces"], focal, center))
        axes[2].set_title("ground-truth mesh", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return _png(fig)


def streamed_frames(frames: dict[str, np.ndarray]) -> bytes:
    """The uint8 frames (N, 1, 3, H, W) each partition's RTL was fed, side by side."""
    plt = _plt()
    items = [(name, i, f[0]) for name, arr in frames.items() for i, f in enumerate(arr)]
    fig, axes = plt.subplots(1, len(items), figsize=(2.0 * len(items), 2.6))
    axes = np.atleast_1d(axes)
    for ax, (name, i, f) in zip(axes, items):
        ax.imshow(np.transpose(f, (1, 2, 0)).astype(np.uint8))
        label = name.replace("_encoder", "")
        if name == "hand_encoder":
            label += " (left, flipped)" if i == 0 else " (right)"
        ax.set_title(f"{label}\n{f.shape[2]}x{f.shape[1]}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return _png(fig)


def layer_chart(est: dict, title: str, measured_cycles: float | None = None) -> bytes:
    """Per-layer cycles per frame (the slowest sets the rate; the measured steady state as a line) and
    per-layer LUT and BRAM_18K, from a compiled partition's estimates.json."""
    plt = _plt()
    layers = [ly for ly in est["layers"] if ly["op_type"] != "StreamingFIFO"]
    names = [ly["node"] for ly in layers]
    x = np.arange(len(names))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11.5, 4.4), sharex=True, height_ratios=(1.2, 1))
    slowest = max(ly["cycles"] for ly in layers) if layers else 0
    ax1.bar(x, [ly["cycles"] for ly in layers],
            color=["tab:red" if ly["cycles"] == slowest else "tab:blue" for ly in layers])
    ax1.axhline(est["cycles_per_frame"], color="tab:red", lw=0.8, ls="--",
                label=f"estimated {est['cycles_per_frame']:,} cycles/frame")
    if measured_cycles:
        ax1.axhline(measured_cycles, color="black", lw=0.8, ls=":",
                    label=f"measured (Verilator) {measured_cycles:,.0f}")
    ax1.set_ylabel("cycles / frame")
    ax1.set_title(f"{title}: {len(names)} layers (FIFOs aside), {est['part']} @ {est['fclk_mhz']:g} MHz, "
                  f"slowest layer red",
                  fontsize=10)
    ax1.legend(loc="upper right", fontsize=7, framealpha=0.9)
    ax2.bar(x, [ly["LUT"] for ly in layers], 0.8, color="tab:green", label="LUT")
    ax2.set_ylabel("LUT")
    handles = ax2.get_legend_handles_labels()[0]
    others = [(k, c, m) for k, c, m in (("BRAM_18K", "tab:purple", "s"), ("DSP", "tab:orange", "^"))
              if any(ly.get(k) for ly in layers)]
    if others:  # block RAM and DSPs on their own axis, as markers, where any layer uses them
        ax3 = ax2.twinx()
        for k, c, m in others:
            ys = [ly.get(k) or np.nan for ly in layers]
            handles.append(ax3.scatter(x, ys, color=c, marker=m, s=14, label=k, zorder=3))
        ax3.set_ylabel(" / ".join(k for k, _, _ in others))
        ax3.set_ylim(bottom=0)
    totals = ", ".join(f"{k} {est['resources'][k]:,}" for k in ("LUT", "FF", "BRAM_18K", "DSP")
                       if k in est.get("resources", {}))
    ax2.set_title(f"estimated resources per layer (total {totals})", fontsize=8)
    ax2.legend(handles=handles, loc="upper left", fontsize=7, framealpha=0.9)
    ax2.set_xticks(x)
    ax2.set_xticklabels(names, rotation=90, fontsize=5.5)
    ax2.set_xlim(-0.7, len(names) - 0.3)
    fig.tight_layout()
    return _png(fig)
