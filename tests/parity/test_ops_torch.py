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
    x, dy, y = ins["in0"], ins["dy0"], outs["out0"]
    mask = outs["out1"].reshape(list(x.shape[:2]) + [1] * (x.dim() - 2))
    bad = []
    scale = torch.tensor(1.0, dtype=torch.float32) / torch.tensor(1.0 - p, dtype=torch.float32)
    m = outs["out1"]
    y3 = y.reshape(x.shape[0], x.shape[1], -1)
    if not torch.equal(y3 == 0, (m == 0)[:, :, None].expand_as(y3)):
        bad.append("not whole channels zeroed")
    if not bool(((m == 0) | (m == scale)).all()):
        bad.append("mask values other than 0 and 1/(1-p)")
    kept = float((m != 0).float().mean())
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
    # issue 13: activations, each on random values and on the edges torch treats specially
    C("leaky_relu",       "leaky_relu",    "alpha=0.01",         [X(2, 3, 4, 5)],                    F.leaky_relu),
    C("leaky_relu_edges", "leaky_relu",    "alpha=0.2",          [V(EDGES)],
      lambda x: F.leaky_relu(x, 0.2)),
    C("elu",              "elu",           "alpha=1",            [X(2, 3, 4, 5)],                    F.elu),
    C("elu_edges",        "elu",           "alpha=0.7",          [V(EDGES)],                         lambda x: F.elu(x, 0.7)),
    C("gelu",             "gelu",          "",                   [X(2, 3, 4, 5, lo=-5, hi=5)],       F.gelu),
    C("gelu_edges",       "gelu",          "",                   [V(EDGES)],                         F.gelu),
    C("gelu_tanh",        "gelu",          "approximate=tanh",   [X(2, 3, 4, 5, lo=-5, hi=5)],
      lambda x: F.gelu(x, approximate="tanh")),
    C("gelu_tanh_edges",  "gelu",          "approximate=tanh",   [V(EDGES)],
      lambda x: F.gelu(x, approximate="tanh")),
    C("silu",             "silu",          "",                   [X(2, 3, 4, 5, lo=-8, hi=8)],       F.silu),
    C("silu_edges",       "silu",          "",                   [V(EDGES)],                         F.silu),
    C("sigmoid",          "sigmoid",       "",                   [X(2, 3, 4, 5, lo=-8, hi=8)],       torch.sigmoid),
    C("sigmoid_edges",    "sigmoid",       "",                   [V(EDGES)],                         torch.sigmoid),
    C("tanh",             "tanh",          "",                   [X(2, 3, 4, 5, lo=-4, hi=4)],       torch.tanh),
    C("tanh_edges",       "tanh",          "",                   [V(EDGES)],                         torch.tanh),
    C("relu6",            "relu6",         "",                   [X(2, 3, 4, 5, lo=-3, hi=9)],       F.relu6),
    C("relu6_edges",      "relu6",         "",                   [V(EDGES)],                         F.relu6),
    C("hardswish",        "hardswish",     "",                   [X(2, 3, 4, 5, lo=-5, hi=5)],       F.hardswish),
    C("hardswish_edges",  "hardswish",     "",                   [V(EDGES)],                         F.hardswish),
    C("hardsigmoid",      "hardsigmoid",   "",                   [X(2, 3, 4, 5, lo=-5, hi=5)],       F.hardsigmoid),
    C("hardsigmoid_edges", "hardsigmoid",  "",                   [V(EDGES)],                         F.hardsigmoid),
    # softmax over dim 1, NLLLoss, residual add, cat and its slices, Dropout2d
    C("softmax",          "softmax",       "",                   [X(6, 10, lo=-10, hi=10)],          lambda x: F.softmax(x, 1)),
    C("softmax_4d",       "softmax",       "",                   [X(2, 5, 3, 4)],                    lambda x: F.softmax(x, 1)),
    C("softmax_nan",      "softmax",       "",                   [V([1, float("nan"), 2, 3, 4, 5], (2, 3))],
      lambda x: F.softmax(x, 1)),
    C("log_softmax",      "log_softmax",   "",                   [X(6, 10, lo=-10, hi=10)],
      lambda x: F.log_softmax(x, 1)),
    C("log_softmax_4d",   "log_softmax",   "",                   [X(2, 5, 3, 4)],                    lambda x: F.log_softmax(x, 1)),
    C("nll_loss",         "nll_loss",      "",                   [X(7, 5, lo=-4, hi=0), L(7, 5)],
      lambda z, y: F.nll_loss(z, y.long()), loss=True),
    C("add_residual",     "add",           "batched=0,1",        [X(2, 4, 5, 5), X(2, 4, 5, 5)],     lambda a, b: a + b),
    C("cat2",             "cat",           "batched=0,1",        [X(2, 3, 4, 5), X(2, 2, 4, 5)],
      lambda a, b: torch.cat([a, b], dim=1)),
    C("cat5",             "cat",           "batched=0,1,2,3,4",
      [X(3, 1, 2, 2), X(3, 4, 2, 2), X(3, 2, 2, 2), X(3, 1, 2, 2), X(3, 3, 2, 2)],
      lambda *xs: torch.cat(xs, dim=1)),
    C("cat_2d",           "cat",           "batched=0,1",        [X(4, 3), X(4, 6)],
      lambda a, b: torch.cat([a, b], dim=1)),
    C("slice",            "slice",         "start=2 count=3",    [X(2, 6, 3, 3)],                    lambda x: x[:, 2:5]),
    C("dropout2d",        "dropout2d",     "p=0.3",              [X(8, 16, 3, 4, lo=0.5, hi=2)],     None,
      check=check_dropout2d),
    C("dropout2d_3d",     "dropout2d",     "p=0.5",              [X(8, 32, 5, lo=0.5, hi=2)],        None,
      check=check_dropout2d),
    C("dropout2d_p0",     "dropout2d",     "p=0",                [X(2, 3, 4, 4)],                    lambda x: F.dropout2d(x, 0.0)),
    C("dropout2d_p1",     "dropout2d",     "p=1",                [X(2, 3, 4, 4)],                    lambda x: F.dropout2d(x, 1.0)),
    C("dropout2d_eval",   "dropout2d",     "p=0.3 training=0",   [X(2, 3, 4, 4)],
      lambda x: F.dropout2d(x, 0.3, training=False)),
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
    want = case.fn(*args) if case.fn else args[0]     # a check case: dy of x's shape
    want = list(want) if isinstance(want, tuple) else [want]
    dys = []
    for k, w in enumerate(want):
        if case.loss:
            dy = torch.ones_like(w) if k == 0 else None
        else:
            dy = X(*w.shape) if w.dtype == torch.float32 else None
        dys.append(dy)
        if dy is not None:      # cnnc's loss is a 1-element tensor, torch's a scalar
            ins[f"dy{k}"] = dy.reshape(1) if case.loss else dy
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
