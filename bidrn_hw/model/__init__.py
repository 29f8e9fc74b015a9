"""BiDRN and its baselines in PyTorch + Brevitas."""
from .network import WholeBodyNet, build_model
from .configs import CONFIGS
from .variants import VARIANTS

__all__ = ["WholeBodyNet", "build_model", "CONFIGS", "VARIANTS"]
