"""bench/torch_models.py: the PyTorch side of the benchmarks: the models of models/*.cnn as
nn.Modules, so both sides run the same network."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from notebook_model import ClassificationCNN  # noqa: E402

MODELS = {"sea": (ClassificationCNN, (3, 100, 100), 5)}
