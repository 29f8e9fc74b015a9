"""The training recipe options shared by benchmarks/accuracy.py and benchmarks/demo_checkpoint.py (one recipe,
so their figures are comparable)."""


def add_training_arguments(parser) -> None:
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--train-size", type=int, default=1024)
    parser.add_argument("--eval-frames", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None, help="synthetic data cache root")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: on this 2-core machine, busy with other jobs, two "
                             "OpenMP threads trained 7-9x slower than one, measured)")
    parser.add_argument("--progress", action="store_true")
