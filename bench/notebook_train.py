#!/usr/bin/python3
"""bench/notebook_train.py: the notebook's 20-epoch training run, as the notebook writes it
(ImageFolder, DataLoader, ClassificationCNN with dropout, Adam, its training loop and log
line), on the folder given. The whole-process baseline for bench.py.
usage: notebook_train.py DATA_DIR [EPOCHS]"""
import os
import sys

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

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
    model.train()
    total_loss, correct, images = 0.0, 0, 0
    for inputs, labels in train_loader:
        optimizer.zero_grad()
        outputs = model(inputs)
        correct += (outputs.argmax(1) == labels).sum().item()
        images += len(labels)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
    model.eval()
    test_loss, test_correct, test_images = 0.0, 0, 0
    with torch.no_grad():
        for inputs, labels in test_loader:
            outputs = model(inputs)
            test_correct += (outputs.argmax(1) == labels).sum().item()
            test_images += len(labels)
            test_loss += criterion(outputs, labels).item()
    print(f"Epoch {epoch + 1}/{NUM_EPOCHS} - Train Loss: {total_loss / len(train_loader):.4f}, "
          f"Train Correct: {correct}/{images} - Test Loss: {test_loss / len(test_loader):.4f}, "
          f"Test Correct: {test_correct}/{test_images}")
