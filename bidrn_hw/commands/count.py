"""Parameters and OPs of a config/variant with the paper's convention (binary/32 + float, binary MACs/64 + float MACs)."""
from __future__ import annotations


def add_arguments(parser):
    parser.add_argument("--config", default="paper", help="paper | edge | tiny (default: paper)")
    parser.add_argument("--variant", default="bidrn", help="fp | bnn | xnor | dorefa | bireal | reactnet | bidrn")
    parser.add_argument("--by-module", action="store_true", help="add the per-module breakdown")


def run(args) -> dict:
    # lazy: torch and Brevitas (the model), kept off the CLI's startup
    from ..model.configs import check_variant, get_config
    from ..model.counter import PAPER_TABLE1, count
    from ..model.network import WholeBodyNet

    cfg = get_config(args.config)
    check_variant(args.variant)
    result = count(WholeBodyNet(cfg, args.variant))
    by_module = result.pop("by_module")
    out = {"config": cfg.name, "variant": args.variant, **result}
    if cfg.name == "paper":
        params, ops = PAPER_TABLE1[args.variant]
        out["paper_params_M"], out["paper_ops_G"] = params, ops
    if args.by_module:
        out["by_module"] = by_module
    return out
