"""bench/torch_models.py: the PyTorch side of the benchmarks: the notebook's model, and the
models of models/*.cnn written as nn.Modules, so both sides run the same network."""
import torch.nn as nn


class ClassificationCNN(nn.Module):
    """The notebook's model (models/sea.cnn), with its Dropout(p=0.8)."""

    def __init__(self):
        super().__init__()
        self.conv_layers = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc_layers = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 25 * 25, 128), nn.ReLU(), nn.Dropout(p=0.8), nn.Linear(128, 5))

    def forward(self, x):
        return self.fc_layers(self.conv_layers(x))


MODELS = {"sea": (ClassificationCNN, (3, 100, 100), 5)}
