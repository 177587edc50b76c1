#!/usr/bin/python3
"""bench/fashion_train.py: the PyTorch reference run for a Fashion-MNIST model of models/
(bench/torch_models.py's MODELS, e.g. fashion_resnet): the same training file cnnc reads
(ToTensor, Normalize(0.2860, 0.3530), Adam lr 0.001, batch 64 shuffled, test batch 256), the
notebook's log line per epoch with its seconds, then the test accuracy and the whole time.
The IDX files are read straight from DIR (Debian's layout), no download. --flip adds
RandomHorizontalFlip() before ToTensor in the training transform; --onecycle MAX_LR steps
OneCycleLR(optimizer, max_lr=MAX_LR, epochs=EPOCHS, steps_per_epoch=len(train_loader)) after
each batch (models/fashion_resnet.cnn's recipe is both, with 0.005).
usage: fashion_train.py MODEL [EPOCHS] [SEED] [DIR] [--flip] [--onecycle MAX_LR]"""
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, Dataset, TensorDataset

from torch_loop import log_line, run_epoch
from torch_models import MODELS


def idx(path):
    """an IDX file (gzipped or not) as a numpy array"""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        buf = f.read()
    ndim = buf[3]
    shape = [int.from_bytes(buf[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def dataset(root, prefix):
    def find(name):
        for n in (name, name + ".gz"):
            if os.path.exists(os.path.join(root, n)):
                return os.path.join(root, n)
        sys.exit(f"fashion_train: {root} has no {name}[.gz]")
    x = torch.from_numpy(idx(find(prefix + "-images-idx3-ubyte")).copy()).float().div(255).unsqueeze(1)
    y = torch.from_numpy(idx(find(prefix + "-labels-idx1-ubyte")).astype(np.int64))
    return TensorDataset((x - 0.2860) / 0.3530, y)


class Flipped(Dataset):
    """a data set whose images are flipped left-right with probability 1/2 each time they are
    read (RandomHorizontalFlip; flipping commutes with ToTensor and Normalize)"""
    def __init__(self, inner):
        self.inner = inner

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        x, y = self.inner[i]
        return (x.flip(-1) if torch.rand(1) < 0.5 else x), y


def main():
    args, flip, max_lr = [], False, None
    argv = sys.argv[1:]
    while argv:
        a = argv.pop(0)
        if a == "--flip":
            flip = True
        elif a == "--onecycle":
            max_lr = float(argv.pop(0))
        else:
            args.append(a)
    name = args[0]
    epochs = int(args[1]) if len(args) > 1 else 10
    seed = int(args[2]) if len(args) > 2 else 1
    root = args[3] if len(args) > 3 else "/usr/share/datasets/fashion-mnist"
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(seed)
    train_set = dataset(root, "train")
    train_loader = DataLoader(Flipped(train_set) if flip else train_set, batch_size=64, shuffle=True)
    test_loader = DataLoader(dataset(root, "t10k"), batch_size=256)
    model = MODELS[name][0]()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    criterion = nn.CrossEntropyLoss()
    scheduler = None
    if max_lr is not None:
        scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, epochs=epochs,
                                                  steps_per_epoch=len(train_loader))
    start = time.perf_counter()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        stats = run_epoch(model, optimizer, criterion, train_loader, test_loader, scheduler)
        print(f"{log_line(epoch, epochs, stats)} ({time.perf_counter() - t0:.1f} s)", flush=True)
    test_correct, test_images = stats[4], stats[5]
    print(f"{name}: test accuracy {test_correct / test_images:.4f} after {epochs} epochs, "
          f"{time.perf_counter() - start:.0f} s, {torch.get_num_threads()} threads, PyTorch {torch.__version__}")


main()
