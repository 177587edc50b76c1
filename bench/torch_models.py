"""bench/torch_models.py: the PyTorch side of the benchmarks: the models of models/*.cnn as
nn.Modules, so both sides run the same network. MODELS maps a name to (class, input shape,
classes): "sea" is models/sea.cnn (the notebook's ClassificationCNN), "fashion" is
models/fashion.cnn; their state_dict keys are cnnc's parameter names."""
import os
import sys

import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from notebook_model import ClassificationCNN  # noqa: E402


class FashionCNN(nn.Module):
    """models/fashion.cnn: two convolutions for 28 x 28 grey images, 10 classes"""

    def __init__(self):
        super().__init__()
        self.conv_layers = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc_layers = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(p=0.3), nn.Linear(128, 10))

    def forward(self, x):
        return self.fc_layers(self.conv_layers(x))


MODELS = {"sea": (ClassificationCNN, (3, 100, 100), 5),
          "fashion": (FashionCNN, (1, 28, 28), 10)}
