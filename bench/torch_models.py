"""bench/torch_models.py: the PyTorch side of the benchmarks and the zoo's parity tests: the
models of models/*.cnn as nn.Modules, so both sides run the same network. MODELS maps a name
to (constructor, input shape, classes): "sea" is models/sea.cnn (the notebook's
ClassificationCNN), "fashion" is models/fashion.cnn, "fashion_resnet" models/fashion_resnet.cnn,
"lenet5" models/lenet5.cnn, "resnet18" and "mobilenet_v2" torchvision's (models/resnet18.cnn,
models/mobilenet_v2.cnn); their state_dict keys are cnnc's parameter names."""
import os
import sys

import torch.nn as nn
import torch.nn.functional as F

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


class BasicBlock(nn.Module):
    """models/fashion_resnet.cnn's BasicBlock: two 3x3 convolutions with BatchNorm and an
    identity shortcut (issue 13's text)"""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x)


class FashionResNet(nn.Module):
    """models/fashion_resnet.cnn: a small residual network for 28 x 28 grey images, 10
    classes. dropout=None leaves the Dropout out (head.1 becomes an Identity, so the keys
    stay), as the parity test needs (tests/parity/parity_dump sets every Dropout's p to 0)."""

    def __init__(self, dropout=0.3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layer1 = nn.Sequential(BasicBlock(16), nn.MaxPool2d(2))
        self.down = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
        self.layer2 = nn.Sequential(BasicBlock(32), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout) if dropout else nn.Identity(),
                                  nn.Linear(32 * 7 * 7, 10))

    def forward(self, x):
        return self.head(self.layer2(self.down(self.layer1(self.stem(x)))))


class LeNet5(nn.Module):
    """models/lenet5.cnn: LeCun et al. 1998 on 28 x 28 digits (padding 2 makes the first
    convolution see the paper's 32 x 32): Tanh, AvgPool2d, full C3 connections"""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def resnet18():
    import torchvision
    return torchvision.models.resnet18()


def mobilenet_v2():
    import torchvision
    return torchvision.models.mobilenet_v2()


MODELS = {"sea": (ClassificationCNN, (3, 100, 100), 5),
          "fashion": (FashionCNN, (1, 28, 28), 10),
          "fashion_resnet": (FashionResNet, (1, 28, 28), 10),
          "lenet5": (LeNet5, (1, 28, 28), 10),
          "resnet18": (resnet18, (3, 224, 224), 1000),
          "mobilenet_v2": (mobilenet_v2, (3, 224, 224), 1000)}


def macs(name):
    """multiply-accumulates of one image's forward pass through MODELS[name]: its Conv2d
    (out elements x in_channels / groups x kernel area) and Linear layers, the usual count"""
    import torch
    ctor, shape, _ = MODELS[name]
    model, total = ctor().eval(), [0]

    def hook(m, inputs, out):
        if isinstance(m, nn.Conv2d):
            total[0] += out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total[0] += out.numel() * m.in_features

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    return total[0]
