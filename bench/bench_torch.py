#!/usr/bin/python3
"""bench/bench_torch.py: PyTorch's side of bench_cnnc: the same model, batch and mode on
random tensors in memory. Prints "MODE median_seconds images/s".
usage: bench_torch.py MODEL train|infer BATCH REPEATS [THREADS]"""
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.optim as optim

from torch_models import MODELS


def main():
    name, mode, batch, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if len(sys.argv) > 5:
        torch.set_num_threads(int(sys.argv[5]))
    cls, shape, classes = MODELS[name]
    torch.manual_seed(1)
    model = cls()
    x = torch.rand(batch, *shape) * 2 - 1
    y = torch.randint(0, classes, (batch,))
    opt = optim.Adam(model.parameters(), lr=0.001)
    criterion = nn.CrossEntropyLoss()

    def train_step():
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()

    def infer_step():
        with torch.no_grad():
            model(x)

    if mode == "train":
        model.train()
        step = train_step
    else:
        model.eval()
        step = infer_step
    for _ in range(3):
        step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"{mode} {med:.6f} {batch / med:.1f}")


main()
