"""tests/notebook_model.py: the notebook's ClassificationCNN as a PyTorch nn.Module, shared by
the PyTorch parity tests and the benchmarks. dropout=None builds the variant without the
Dropout layer (models/sea_nodropout.cnn), whose last Linear is then fc_layers.3."""
import torch.nn as nn


class ClassificationCNN(nn.Module):
    def __init__(self, dropout=0.8):
        super().__init__()
        self.conv_layers = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        fc = [nn.Flatten(), nn.Linear(32 * 25 * 25, 128), nn.ReLU()]
        if dropout is not None:
            fc.append(nn.Dropout(p=dropout))
        self.fc_layers = nn.Sequential(*fc, nn.Linear(128, 5))

    def forward(self, x):
        return self.fc_layers(self.conv_layers(x))
