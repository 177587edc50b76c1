#!/usr/bin/python3
"""bench/fashion_train.py: the PyTorch reference run for a Fashion-MNIST model of models/
(bench/torch_models.py's MODELS, e.g. fashion_resnet): the same training file cnnc reads
(ToTensor, Normalize(0.2860, 0.3530), Adam lr 0.001, batch 64 shuffled, test batch 256), the
notebook's log line per epoch with its seconds, then the test accuracy and the whole time.
The IDX files are read straight from DIR (Debian's layout), no download.
usage: fashion_train.py MODEL [EPOCHS] [SEED] [DIR]"""
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset

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


def main():
    name = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    root = sys.argv[4] if len(sys.argv) > 4 else "/usr/share/datasets/fashion-mnist"
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(seed)
    train_loader = DataLoader(dataset(root, "train"), batch_size=64, shuffle=True)
    test_loader = DataLoader(dataset(root, "t10k"), batch_size=256)
    model = MODELS[name][0]()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    criterion = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        stats = run_epoch(model, optimizer, criterion, train_loader, test_loader)
        print(f"{log_line(epoch, epochs, stats)} ({time.perf_counter() - t0:.1f} s)", flush=True)
    test_correct, test_images = stats[4], stats[5]
    print(f"{name}: test accuracy {test_correct / test_images:.4f} after {epochs} epochs, "
          f"{time.perf_counter() - start:.0f} s, {torch.get_num_threads()} threads, PyTorch {torch.__version__}")


main()
