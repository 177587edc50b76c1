#!/usr/bin/python3
"""bench/bench_opencv.py: OpenCV's DNN module (Debian's python3-opencv) running the ONNX model
`cnnc --export-onnx` wrote, on random tensors in memory (or INPUTS.raw's, raw float32 tensors
of the model's input, in turn: bench/emit_c.sh trained), for bench.py's deployment table.
Prints "infer median_seconds images/s" as bench_torch.py does.
usage: bench_opencv.py MODEL.onnx BATCH REPEATS [THREADS [INPUTS.raw]]"""
import statistics
import sys
import time

import cv2
import numpy as np
import onnx


def main():
    path, batch, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if len(sys.argv) > 4:
        cv2.setNumThreads(int(sys.argv[4]))
    dims = onnx.load(path).graph.input[0].type.tensor_type.shape.dim
    shape = [batch] + [d.dim_value for d in dims[1:]]
    if len(sys.argv) > 5:
        xs = np.fromfile(sys.argv[5], dtype=np.float32).reshape([-1, batch] + shape[1:])
    else:
        xs = [np.random.default_rng(1).uniform(-1, 1, size=shape).astype(np.float32)]
    net = cv2.dnn.readNetFromONNX(path)
    for _ in range(3):
        net.setInput(xs[0])
        net.forward()
    times = []
    for i in range(reps):
        x = xs[i % len(xs)]
        t0 = time.perf_counter()
        net.setInput(x)
        net.forward()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"infer {med:.6f} {batch / med:.1f}")


main()
