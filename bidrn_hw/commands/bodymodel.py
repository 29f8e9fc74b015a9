"""Write the stand-in SMPL-X body model (--out), or check that a SMPL-X .npz loads through smplx (--check).

The stand-in is a generated look-alike, NOT SMPL-X (see docs/body_model.md). To use the real model, download
SMPLX_NEUTRAL.npz from https://smpl-x.is.tue.mpg.de and pass its path or set BIDRN_HW_SMPLX.
"""
from __future__ import annotations


def add_arguments(parser):
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", metavar="PATH", help="write the stand-in .npz to PATH (exactly this name)")
    what.add_argument("--check", metavar="PATH", help="load a SMPL-X .npz (or a folder holding SMPLX_NEUTRAL.npz) "
                                                      "through smplx and report its sizes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stand-in (default: 0)")


def run(args) -> dict:
    if args.out is not None:
        return _write(args.out, args.seed)
    return _check(args.check)


def _write(out: str, seed: int) -> dict:
    from ..body.standin import write_standin
    from ..errors import InputFileError

    try:
        model = write_standin(out, seed)
    except OSError as exc:
        raise InputFileError(f"cannot write the stand-in to {out}: {exc}") from exc
    return {"path": str(out), "vertices": model.num_vertices, "faces": model.num_faces,
            "joints": int(model.joints.shape[0]), "seed": seed, "standin": True}


def _check(path: str) -> dict:
    import torch

    from ..body.smplx_layer import PARAMETERS, BodyModel

    model = BodyModel(path)
    with torch.no_grad():
        out = model(**{name: torch.zeros(1, size) for name, size in PARAMETERS.items()})
    info = model.info
    return {"path": str(info.path), "standin": info.standin, "vertices": int(out.vertices.shape[1]),
            "faces": info.num_faces, "joints": int(model.smplx.J_regressor.shape[0]),
            "output_joints": int(out.joints.shape[1]), "shape_components": info.num_shape_components}
