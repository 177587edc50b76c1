#!/usr/bin/python3
"""bench/notebook_train.py: the notebook's 20-epoch training run, as the notebook writes it
(ImageFolder, DataLoader, ClassificationCNN with dropout, Adam, its training loop and log
line, bench/torch_loop.py), on the folder given. The whole-process baseline for bench.py.
usage: notebook_train.py DATA_DIR [EPOCHS]"""
import os
import sys

import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from torch_loop import log_line, run_epoch
from torch_models import ClassificationCNN

root = sys.argv[1]
NUM_EPOCHS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
BATCH_SIZE = 10
transform = transforms.Compose([transforms.ToTensor(),
                                transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])])
train_loader = DataLoader(datasets.ImageFolder(os.path.join(root, "train"), transform=transform),
                          batch_size=BATCH_SIZE, shuffle=True)
test_loader = DataLoader(datasets.ImageFolder(os.path.join(root, "test"), transform=transform),
                         batch_size=BATCH_SIZE, shuffle=False)
model = ClassificationCNN()
optimizer = optim.Adam(model.parameters(), lr=0.001)
criterion = nn.CrossEntropyLoss()
for epoch in range(NUM_EPOCHS):
    print(log_line(epoch, NUM_EPOCHS, run_epoch(model, optimizer, criterion, train_loader, test_loader)))
