"""The training recipe options shared by benchmarks/accuracy.py and benchmarks/demo_checkpoint.py (one recipe,
so their figures are comparable). docs/training.md explains each choice."""


def add_training_arguments(parser) -> None:
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--train-size", type=int, default=8192,
                        help="synthetic training renders (rendered once and cached; ~4 epochs at the defaults, "
                             "each under other photometric augmentation)")
    parser.add_argument("--eval-frames", type=int, default=256, help="validation frames the metrics average")
    parser.add_argument("--lr", type=float, default=None,
                        help="peak learning rate (default: accuracy.py sweeps it per variant)")
    parser.add_argument("--warmup", type=float, default=0.03, help="fraction of the steps of linear warm-up")
    parser.add_argument("--clip-grad", type=float, default=5.0, help="max gradient norm (0: off)")
    parser.add_argument("--binarize-weights-at", type=float, default=0.0,
                        help="two-stage binarization: weights stay real for this fraction of the steps")
    parser.add_argument("--eval-every", type=int, default=250, help="learning-curve validation every N steps")
    parser.add_argument("--curve-frames", type=int, default=32, help="validation frames per learning-curve point")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None, help="synthetic data cache root")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on this 2-core machine, busy with other jobs, two "
                             "OpenMP threads trained 7-9x slower than one, measured)")
    parser.add_argument("--no-hardware", action="store_true", help="skip the QONNX hardware-variant evaluation")
    parser.add_argument("--progress", action="store_true")


def recipe_options(args) -> dict:
    """TrainOptions fields set by the recipe arguments (everything but variant, out, steps, lr, evaluation)."""
    return dict(batch_size=args.batch_size, seed=args.seed, train_size=args.train_size, cache_dir=args.cache_dir,
                progress=args.progress, warmup=args.warmup, clip_grad=args.clip_grad,
                binarize_weights_at=args.binarize_weights_at, curve_frames=args.curve_frames,
                checkpoint_every=args.checkpoint_every)
