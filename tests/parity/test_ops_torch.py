#!/usr/bin/python3
"""tests/parity/test_ops_torch.py: each op of the op table, alone, against torch.nn.functional.

For every case below: random (or given) inputs go to a safetensors file with a random
upstream gradient for each output; op_check (C, tests/parity/op_check.c) runs the op's
forward and its backward rule on them; PyTorch computes the same forward and, by autograd,
the same input gradients. Each output and gradient must agree to 1e-5 relative
(max |cnnc - torch| / max |torch|), with NaN and infinity at the same places.

Adding a case is one line in CASES:
    C(name, op, keys, inputs, torch_fn, **options)
  op       the op's name in the op table          keys  op_check's key=value arguments
  inputs   X(*shape, lo=-2, hi=2) random float32, L(N, K) int32 labels,
           V(values, shape) given float32 values (NaN and inf allowed)
  torch_fn takes the inputs as tensors (float ones require grad; labels are int32), returns
           an output or a tuple of outputs: compared, in order, to the op's first outputs
  options  loss=True: output 0 is a loss, its upstream gradient 1 (the op is autodiff's root)
           tol=1e-5; check=f(ins, outs, keys): a custom check (random ops), returns messages
Skipped (exit 77) where /usr/bin/python3 has no torch."""
import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("test_ops_torch: skipped, no torch for this python")
    sys.exit(77)

import numpy as np

top_srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
top_builddir = os.environ.get("top_builddir", top_srcdir)
sys.path.insert(0, os.path.join(top_srcdir, "tests", "data"))
from safetensors_io import load_file, save_file  # noqa: E402

OP_CHECK = os.path.join(top_builddir, "tests", "parity", "op_check")
rng = np.random.default_rng(13)


def X(*shape, lo=-2.0, hi=2.0):
    return torch.from_numpy(rng.uniform(lo, hi, size=shape).astype(np.float32))


def L(n, k):
    return torch.from_numpy(rng.integers(0, k, size=n).astype(np.int32))


def V(values, shape=None):
    t = torch.tensor(values, dtype=torch.float32)
    return t.reshape(shape) if shape else t.reshape(1, -1)


class C:
    def __init__(self, name, op, keys, inputs, fn, loss=False, tol=1e-5, check=None):
        self.name, self.op, self.keys, self.inputs, self.fn = name, op, keys, inputs, fn
        self.loss, self.tol, self.check = loss, tol, check


def check_dropout2d(ins, outs, keys):
    """y = x * mask, the mask one value per (n, c) plane: 0 or 1/(1-p); dx = dy * mask"""
    p = float(dict(k.split("=") for k in keys.split())["p"])
    x, dy, y, mask = ins["in0"], ins["dy0"], outs["out0"], outs["out1"]
    bad = []
    scale = torch.tensor(1.0, dtype=torch.float32) / torch.tensor(1.0 - p, dtype=torch.float32)
    m = mask.reshape(mask.shape[0], mask.shape[1], -1)
    if not bool(((m == m[:, :, :1]).all())):
        bad.append("the mask is not constant over each channel")
    if not bool(((m == 0) | (m == scale)).all()):
        bad.append("mask values other than 0 and 1/(1-p)")
    kept = float((m[:, :, 0] != 0).float().mean())
    if abs(kept - (1 - p)) > 0.15:
        bad.append(f"kept {kept:.2f} of the channels, expected about {1 - p:.2f}")
    if not torch.equal(y, x * mask):
        bad.append("y != x * mask")
    if not torch.equal(outs["grad0"], dy * mask):
        bad.append("dx != dy * mask")
    return bad


# Values at the kinks and edges torch defines specially
EDGES = [-7.0, -3.0, -2.9999, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.9999, 3.0, 5.9999, 6.0, 6.5,
         -30.0, 30.0, float("nan"), float("inf"), float("-inf")]

CASES = [
    # name                op               keys                  inputs                              torch
    C("relu",             "relu",          "",                   [X(2, 3, 4, 5)],                    F.relu),
    C("add",              "add",           "batched=0,1",        [X(2, 3, 4, 5), X(2, 3, 4, 5)],     torch.add),
    C("linear",           "linear",        "",                   [X(4, 7), X(5, 7), X(5)],           F.linear),
    C("conv2d",           "conv2d",        "kernel=3 stride=1 padding=1",
      [X(2, 3, 6, 6), X(4, 3, 3, 3), X(4)],
      lambda x, w, b: F.conv2d(x, w, b, padding=1)),
    C("maxpool2d",        "maxpool2d",     "kernel=2 stride=2",  [X(2, 3, 6, 6)],
      lambda x: F.max_pool2d(x, 2)),
    C("cross_entropy",    "cross_entropy", "",                   [X(6, 5), L(6, 5)],
      lambda z, y: (F.cross_entropy(z, y.long()), F.softmax(z, 1)), loss=True),
]


def rel_error(got, want):
    """max |got - want| / max |want| over the finite places, or inf when NaN/inf places differ"""
    got = got.detach().double().reshape(want.shape)
    want = want.detach().double()
    if not torch.equal(torch.isnan(got), torch.isnan(want)):
        return float("inf")
    fin = torch.isfinite(want)
    if not torch.equal(got[~fin & ~torch.isnan(want)], want[~fin & ~torch.isnan(want)]):
        return float("inf")
    if not bool(fin.any()):
        return 0.0
    scale = want[fin].abs().max().item()
    err = (got[fin] - want[fin]).abs().max().item()
    return err / scale if scale > 0 else err


def run_case(case, tmp):
    ins = {f"in{i}": t for i, t in enumerate(case.inputs)}
    args = [t.clone().requires_grad_(t.dtype == torch.float32) for t in case.inputs]
    want = case.fn(*args)
    want = list(want) if isinstance(want, tuple) else [want]
    dys = []
    for k, w in enumerate(want):
        if case.loss:
            dy = torch.ones_like(w) if k == 0 else None
        else:
            dy = X(*w.shape) if w.dtype == torch.float32 else None
        dys.append(dy)
        if dy is not None:
            ins[f"dy{k}"] = dy.reshape(-1) if case.loss else dy
    if case.loss:       # cnnc's loss is a 1-element tensor
        ins["dy0"] = torch.ones(1)
    src, dst = os.path.join(tmp, case.name + ".in"), os.path.join(tmp, case.name + ".out")
    save_file(ins, src)
    r = subprocess.run([OP_CHECK, case.op, src, dst] + case.keys.split(), capture_output=True, text=True)
    if r.returncode != 0:
        return [f"op_check failed ({r.returncode}): {r.stderr.strip()}"]
    outs = load_file(dst)
    if case.check:
        return case.check(ins, outs, case.keys)
    bad = []
    for k, w in enumerate(want):
        e = rel_error(outs[f"out{k}"], w)
        if not e <= case.tol:
            bad.append(f"out{k} off by {e:.3g} relative")
    pairs = [(w, d) for w, d in zip(want, dys) if d is not None and w.requires_grad]
    wrt = [a for a in args if a.requires_grad]
    grads = torch.autograd.grad([w for w, _ in pairs], wrt, [d for _, d in pairs], allow_unused=True) \
        if pairs else [None] * len(wrt)
    gi = iter(grads)
    for i, a in enumerate(args):
        if not a.requires_grad:
            continue
        g = next(gi)
        if g is None:
            continue
        if f"grad{i}" not in outs:
            bad.append(f"no gradient for in{i}")
            continue
        e = rel_error(outs[f"grad{i}"], g)
        if not e <= case.tol:
            bad.append(f"grad{i} off by {e:.3g} relative")
    return bad


def main():
    only = sys.argv[1:]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            if only and case.name not in only:
                continue
            bad = run_case(case, tmp)
            for b in bad:
                print(f"test_ops_torch: {case.name}: {b}")
            failures += bool(bad)
    n = sum(1 for c in CASES if not only or c.name in only)
    print(f"test_ops_torch: {n} cases, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
