"""Write the stand-in SMPL-X body model (--out), or check that a SMPL-X .npz loads through smplx (--check).

The stand-in is a generated look-alike, NOT SMPL-X (see docs/body_model.md). To use the real model, download
SMPLX_NEUTRAL.npz from https://smpl-x.is.tue.mpg.de and pass its path or set BIDRN_HW_SMPLX.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import InputFileError, UsageError


def add_arguments(parser):
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", metavar="PATH", help="write the stand-in .npz to PATH (exactly this name)")
    what.add_argument("--check", metavar="PATH", help="load a SMPL-X .npz (or a folder holding SMPLX_NEUTRAL.npz) "
                                                      "through smplx and report its sizes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stand-in (default: 0)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="with --check: load a .pkl model file (pickles can run code; the real SMPL-X also "
                             "ships SMPLX_NEUTRAL.npz, which needs no trust)")
    parser.add_argument("--force", action="store_true", help="with --out: replace an existing file")


def run(args) -> dict:
    if args.out is not None:
        return _write(args.out, args.seed, args.force)
    return _check(args.check, args.trust_pickle)


def _write(out: str, seed: int, force: bool = False) -> dict:
    # lazy: numpy, kept off the CLI's startup
    from ..body.standin import write_standin

    if Path(out).is_dir():
        raise UsageError(f"--out {out}: is a folder; give the .npz file's name")
    if not out.endswith(".npz"):
        raise UsageError(f"--out {out}: the body model is an .npz file; give a name ending in .npz")
    if Path(out).exists() and not force:
        raise UsageError(f"--out {out}: exists; refusing to replace it (--force replaces it)")
    try:
        model = write_standin(out, seed)
    except OSError as exc:
        raise InputFileError(f"cannot write the stand-in to {out}: {exc}") from exc
    return {"path": str(out), "vertices": model.num_vertices, "faces": model.num_faces,
            "joints": int(model.joints.shape[0]), "seed": seed, "standin": True}


def _check(path: str, trust_pickle: bool = False) -> dict:
    # lazy: torch and the body model, kept off the CLI's startup
    import torch

    from ..body.smplx_layer import PARAMETERS, BodyModel

    model = BodyModel(path, trust_pickle=trust_pickle)
    with torch.no_grad():
        out = model(**{name: torch.zeros(1, size) for name, size in PARAMETERS.items()})
    info = model.info
    return {"path": str(info.path), "standin": info.standin, "vertices": int(out.vertices.shape[1]),
            "faces": info.num_faces, "joints": int(model.smplx.J_regressor.shape[0]),
            "output_joints": int(out.joints.shape[1]), "shape_components": info.num_shape_components}
