"""bench/loader_torchvision.py: images per second of torchvision's DataLoader alone with the
notebook's train_transform_augmented, for bench/loader.sh:
    loader_torchvision.py ROOT NUM_WORKERS REPEATS
ImageFolder(ROOT), batch 10, shuffle=True, the notebook's defaults otherwise (workers are
started for each epoch, as a plain DataLoader does); one line per epoch, then the median."""
import statistics
import sys
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

root, workers, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
train_transform_augmented = transforms.Compose([
    transforms.RandomHorizontalFlip(p=0.5),
    transforms.RandomVerticalFlip(p=0.5),
    transforms.RandomRotation(degrees=15),
    transforms.RandomApply([
        transforms.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05),
        transforms.RandomPerspective(distortion_scale=0.4, p=1.0)
    ], p=0.5),
    transforms.ToTensor(),
    transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
])
torch.manual_seed(1)
ds = datasets.ImageFolder(root=root, transform=train_transform_augmented)
loader = DataLoader(ds, batch_size=10, shuffle=True, num_workers=workers)
rates = []
for r in range(repeats):
    t0 = time.perf_counter()
    n = sum(x.shape[0] for x, _ in loader)
    rates.append(n / (time.perf_counter() - t0))
    print(f"epoch {r + 1}: {n} images, {rates[-1]:.0f} images/s")
print(f"median {statistics.median(rates):.1f} images/s")
