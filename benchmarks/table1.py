"""Reproduce the paper's Table 1 (params / OPs) for every variant; prints JSON.

    .venv/bin/python benchmarks/table1.py [--stride-on-1x1]

``--stride-on-1x1`` puts the bottleneck stride on the first 1x1 conv (ResNet v1) instead of the 3x3
(torchvision v1.5, what Hand4Whole uses): same parameters, fewer MACs. It explains most of the gap
between our full-precision OP count and the paper's.
"""
import argparse
import dataclasses
import json

from bidrn_hw.model.configs import CONFIGS
from bidrn_hw.model.counter import PAPER_TABLE1, count
from bidrn_hw.model.network import WholeBodyNet
from bidrn_hw.model.variants import VARIANTS


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="paper")
    parser.add_argument("--stride-on-1x1", action="store_true")
    args = parser.parse_args()
    cfg = CONFIGS[args.config]
    if args.stride_on_1x1:
        cfg = dataclasses.replace(cfg, body_encoder=dataclasses.replace(cfg.body_encoder, stride_on_1x1=True),
                                  hand_encoder=dataclasses.replace(cfg.hand_encoder, stride_on_1x1=True))
    rows = {}
    for variant in VARIANTS:
        r = count(WholeBodyNet(cfg, variant))
        row = {k: r[k] for k in ("params_M", "ops_G", "binary_macs_G", "float_macs_G", "total_params")}
        if args.config == "paper":
            p, o = PAPER_TABLE1[variant]
            row.update(paper_params_M=p, paper_ops_G=o, params_dev_pct=round(100 * (r["params_M"] - p) / p, 2),
                       ops_dev_pct=round(100 * (r["ops_G"] - o) / o, 2))
        rows[variant] = row
    print(json.dumps({"config": args.config, "stride_on_1x1": args.stride_on_1x1, "variants": rows}, indent=1))


if __name__ == "__main__":
    main()
