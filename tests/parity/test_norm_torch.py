#!/usr/bin/python3
"""tests/parity/test_norm_torch.py: issue 13's BatchNorm, pools and general convolutions,
op by op, against torch.nn.functional on the same inputs (forward, and the gradient of every
input by autograd, 1e-5 relative), through test_ops_torch.py's harness and op_check.

BatchNorm cases also compare the running statistics and num_batches_tracked the op leaves
behind (op_check's bufK) with the buffers torch.nn.BatchNorm2d/1d updates in one step.
Skipped (exit 77) where /usr/bin/python3 has no torch."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_ops_torch as h  # noqa: E402  (exits 77 without torch)
from test_ops_torch import C, X, rel_error  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def bn_check(dim, affine=True, track=True, momentum=0.1, training=True, nbt=0):
    """A check comparing op_check's batchnorm with torch.nn.BatchNorm{1,2}d in one step."""
    def check(ins, outs, keys):
        x = ins["in0"].clone().requires_grad_(True)
        C_ = x.shape[1]
        mod = (torch.nn.BatchNorm2d if dim == 2 else torch.nn.BatchNorm1d)(
            C_, eps=1e-5, momentum=momentum, affine=affine, track_running_stats=track)
        k = 1
        with torch.no_grad():
            if affine:
                mod.weight.copy_(ins["in1"])
                mod.bias.copy_(ins["in2"])
                k = 3
            if track:
                mod.running_mean.copy_(ins[f"in{k}"])
                mod.running_var.copy_(ins[f"in{k + 1}"])
                mod.num_batches_tracked.fill_(int(ins[f"in{k + 2}"].reshape(-1)[0]))
        mod.train(training)
        y = mod(x)
        bad = []
        e = rel_error(outs["out0"], y)
        if not e <= 1e-5:
            bad.append(f"y off by {e:.3g} relative")
        wrt = [x] + ([mod.weight, mod.bias] if affine else [])
        grads = torch.autograd.grad(y, wrt, ins["dy0"])
        for i, g in zip([0, 1, 2], grads):
            e = rel_error(outs[f"grad{i}"], g)
            if not e <= 1e-5:
                bad.append(f"grad{i} off by {e:.3g} relative")
        if track:
            for name, t, j in (("running_mean", mod.running_mean, k), ("running_var", mod.running_var, k + 1)):
                e = rel_error(outs[f"buf{j}"], t)
                if not e <= 1e-5:
                    bad.append(f"{name} off by {e:.3g} relative")
            got = int(outs[f"buf{k + 2}"].reshape(-1)[0])
            if got != int(mod.num_batches_tracked):
                bad.append(f"num_batches_tracked {got}, torch {int(mod.num_batches_tracked)}")
        return bad
    return check


def BUF(c, lo=0.5, hi=1.5):
    return X(c, lo=lo, hi=hi)


def NBT(n):
    return torch.tensor([n], dtype=torch.int64)


def bn_inputs(x, c, affine=True, track=True, nbt=0):
    ins = [x]
    if affine:
        ins += [X(c, lo=0.5, hi=1.5), X(c, lo=-1, hi=1)]
    if track:
        ins += [X(c, lo=-0.5, hi=0.5), BUF(c), NBT(nbt)]
    return ins


def avg(k, s=None, p=0, ceil=False, include=True):
    return lambda x: F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=include)


CASES = [
    # BatchNorm2d / BatchNorm1d: y, dx, dweight, dbias, and the buffers after the step
    C("bn2d_train", "batchnorm2d", "eps=1e-5 momentum=0.1 buffers=3,4,5", bn_inputs(X(4, 3, 5, 6), 3), None,
      check=bn_check(2)),
    C("bn2d_train_batch1", "batchnorm2d", "eps=1e-5 momentum=0.1 buffers=3,4,5", bn_inputs(X(1, 2, 3, 7), 2), None,
      check=bn_check(2)),
    C("bn2d_eval", "batchnorm2d", "eps=1e-5 momentum=0.1 training=0 buffers=3,4,5", bn_inputs(X(3, 3, 4, 4), 3, nbt=5), None,
      check=bn_check(2, training=False, nbt=5)),
    C("bn2d_momentum_none", "batchnorm2d", "eps=1e-5 momentum_none=1 buffers=3,4,5", bn_inputs(X(2, 4, 3, 3), 4, nbt=2), None,
      check=bn_check(2, momentum=None, nbt=2)),
    C("bn2d_no_affine", "batchnorm2d", "eps=1e-5 momentum=0.3 buffers=1,2,3", bn_inputs(X(3, 2, 4, 5), 2, affine=False), None,
      check=bn_check(2, affine=False, momentum=0.3)),
    C("bn2d_no_track", "batchnorm2d", "eps=1e-5 momentum=0.1 training=0", bn_inputs(X(3, 2, 4, 5), 2, track=False),
      None, check=bn_check(2, track=False, training=False)),
    C("bn1d_train", "batchnorm1d", "eps=1e-5 momentum=0.1 buffers=3,4,5", bn_inputs(X(8, 5), 5), None, check=bn_check(1)),
    C("bn1d_length", "batchnorm1d", "eps=1e-5 momentum=0.1 buffers=3,4,5", bn_inputs(X(3, 4, 7), 4), None, check=bn_check(1)),
    C("bn1d_eval", "batchnorm1d", "eps=1e-5 momentum=0.1 training=0 buffers=3,4,5", bn_inputs(X(6, 5), 5, nbt=1), None,
      check=bn_check(1, training=False, nbt=1)),
    # Conv2d's groups, dilation, non-square pairs, reflect
    C("conv2d_groups", "conv2d", "kernel=3 stride=1 padding=1 groups=2", [X(2, 4, 6, 5), X(6, 2, 3, 3), X(6)],
      lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2)),
    C("conv2d_depthwise", "conv2d", "kernel=3 stride=2 padding=1 groups=8", [X(2, 8, 9, 7), X(8, 1, 3, 3), X(8)],
      lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=8)),
    C("conv2d_depthwise_x2", "conv2d", "kernel=3 stride=1 padding=1 groups=3", [X(2, 3, 6, 6), X(6, 1, 3, 3)],
      lambda x, w: F.conv2d(x, w, None, padding=1, groups=3)),
    # the depthwise kernel (conv2d_depthwise.c): rows of several vectors, stride 2, dilation, 5x5, multiplier 2
    C("conv2d_depthwise_wide", "conv2d", "kernel=3 stride=1 padding=1 groups=4", [X(2, 4, 19, 37), X(4, 1, 3, 3), X(4)],
      lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=4)),
    C("conv2d_depthwise_s2", "conv2d", "kernel=3 stride=2 padding=1 groups=3", [X(2, 3, 24, 33), X(3, 1, 3, 3), X(3)],
      lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=3)),
    C("conv2d_depthwise_5x5_d2", "conv2d", "kernel=5 stride=1 padding=4 dilation_hw=2,2 groups=2",
      [X(2, 2, 17, 20), X(2, 1, 5, 5), X(2)], lambda x, w, b: F.conv2d(x, w, b, padding=4, dilation=2, groups=2)),
    C("conv2d_depthwise_x2_s2", "conv2d", "kernel=3 stride=2 padding=1 groups=3", [X(2, 3, 18, 21), X(6, 1, 3, 3)],
      lambda x, w: F.conv2d(x, w, None, stride=2, padding=1, groups=3)),
    C("conv2d_dilation", "conv2d", "kernel=3 stride=1 padding=2 dilation_hw=2,2", [X(2, 3, 8, 9), X(4, 3, 3, 3), X(4)],
      lambda x, w, b: F.conv2d(x, w, b, padding=2, dilation=2)),
    C("conv2d_nonsquare", "conv2d", "kernel_hw=1,3 stride_hw=1,2 padding_hw=0,1", [X(2, 3, 7, 9), X(4, 3, 1, 3), X(4)],
      lambda x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=(0, 1))),
    C("conv2d_mixed", "conv2d", "kernel_hw=3,2 stride_hw=2,1 padding_hw=1,0 dilation_hw=1,3",
      [X(2, 2, 8, 9), X(3, 2, 3, 2), X(3)],
      lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 3))),
    # a padding pair with a 0 in it, as lowering writes it (the square field holds the first)
    C("conv2d_pad_pair_zero", "conv2d", "kernel=3 stride=1 padding=1 padding_hw=1,0",
      [X(2, 3, 5, 6), X(4, 3, 3, 3), X(4)], lambda x, w, b: F.conv2d(x, w, b, padding=(1, 0))),
    C("conv2d_pad_pair_zero_first", "conv2d", "kernel=3 stride=1 padding=0 padding_hw=0,2",
      [X(2, 3, 5, 6), X(4, 3, 3, 3)], lambda x, w: F.conv2d(x, w, None, padding=(0, 2))),
    C("conv2d_reflect", "conv2d", "kernel=3 stride=1 padding=1 padding_mode=reflect",
      [X(2, 3, 6, 5), X(4, 3, 3, 3), X(4)],
      lambda x, w, b: F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), w, b)),
    C("conv2d_reflect_grouped", "conv2d", "kernel_hw=5,3 stride=1 padding_hw=2,1 padding_mode=reflect groups=2",
      [X(1, 4, 7, 6), X(4, 2, 5, 3), X(4)],
      lambda x, w, b: F.conv2d(F.pad(x, (1, 1, 2, 2), mode="reflect"), w, b, groups=2)),
    # AvgPool2d, the adaptive pools, MaxPool2d's ceil_mode and dilation
    C("avgpool2d", "avgpool2d", "kernel=2 count_include_pad=1", [X(2, 3, 6, 7)], avg(2)),
    C("avgpool2d_pad", "avgpool2d", "kernel=3 stride=2 padding=1 count_include_pad=1", [X(2, 3, 7, 6)],
      avg(3, 2, 1)),
    C("avgpool2d_exclude_pad", "avgpool2d", "kernel=3 stride=2 padding=1 count_include_pad=0", [X(2, 3, 7, 6)],
      avg(3, 2, 1, include=False)),
    C("avgpool2d_ceil", "avgpool2d", "kernel_hw=3,2 stride_hw=2,3 padding=1 ceil_mode=1 count_include_pad=1",
      [X(2, 2, 8, 9)], avg((3, 2), (2, 3), 1, ceil=True)),
    C("avgpool2d_ceil_exclude", "avgpool2d", "kernel=2 stride=2 padding=1 ceil_mode=1 count_include_pad=0",
      [X(2, 2, 5, 5)], avg(2, 2, 1, ceil=True, include=False)),
    C("adaptive_avgpool2d", "adaptive_avgpool2d", "out_hw=3,2", [X(2, 3, 7, 5)],
      lambda x: F.adaptive_avg_pool2d(x, (3, 2))),
    C("adaptive_avgpool2d_global", "adaptive_avgpool2d", "out_hw=1,1", [X(2, 4, 7, 7)],
      lambda x: F.adaptive_avg_pool2d(x, 1)),
    C("adaptive_avgpool2d_up", "adaptive_avgpool2d", "out_hw=7,7", [X(1, 2, 3, 4)],
      lambda x: F.adaptive_avg_pool2d(x, 7)),
    C("adaptive_maxpool2d", "adaptive_maxpool2d", "out_hw=3,4", [X(2, 3, 7, 9)],
      lambda x: F.adaptive_max_pool2d(x, (3, 4))),
    C("maxpool2d_ceil", "maxpool2d", "kernel=2 stride=2 ceil_mode=1", [X(2, 3, 7, 7)],
      lambda x: F.max_pool2d(x, 2, ceil_mode=True)),
    C("maxpool2d_ceil_pad", "maxpool2d", "kernel=3 stride=2 padding=1 ceil_mode=1", [X(2, 3, 8, 9)],
      lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
    C("maxpool2d_dilation", "maxpool2d", "kernel_hw=3,2 stride_hw=2,3 padding=1 dilation_hw=2,3 ceil_mode=1",
      [X(2, 2, 10, 9)], lambda x: F.max_pool2d(x, (3, 2), (2, 3), 1, dilation=(2, 3), ceil_mode=True)),
]


def main():
    only = sys.argv[1:]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            if only and case.name not in only:
                continue
            if case.check and case.op.startswith("batchnorm"):
                # the harness draws dy for x's shape; every other check is the function's
                case.fn = None
            bad = h.run_case(case, tmp)
            for b in bad:
                print(f"test_norm_torch: {case.name}: {b}")
            failures += bool(bad)
    n = sum(1 for c in CASES if not only or c.name in only)
    print(f"test_norm_torch: {n} cases, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
