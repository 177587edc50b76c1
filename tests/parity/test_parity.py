#!/usr/bin/python3
"""tests/parity/test_parity.py: cnnc against PyTorch on the same weights and batches.

parity_dump (C) runs the notebook's model, without dropout, as cnnc compiles it from
models/sea_nodropout.cnn, for three Adam steps on fixed batches, and writes the weights each
step starts from, the batches, each step's logits, loss and gradients, and the final
weights. Here PyTorch loads each step's starting weights into the notebook's
ClassificationCNN with load_state_dict (strict, so the names must be PyTorch's state_dict
keys) and recomputes that step's logits, loss and gradients; then torch.optim.Adam, fed
cnnc's gradients, takes the three steps from the initial weights. Everything must agree to
1e-4 relative (max |cnnc - torch| / max |torch| per tensor).

Each step starts from cnnc's weights, not from PyTorch's own after the steps before, so
last-bit differences do not pile up from step to step. Within a step they can still decide
a near-tie: a max-pool window whose two largest values (or whose maximum and 0, for the ReLU
before it) are closer than float32 can tell apart sends its gradient to one place in cnnc
and to another in PyTorch, which moves whole weight gradients by 1e-3 relative. So each
step first finds, in float64, the windows within 1e-6 of such a tie (relative to the layer's largest
activation: several times the largest difference seen between the two); PyTorch then computes
the step once for every way those windows may fall (there are rarely more than two), and
cnnc must match one of them.

Fed the same gradients, the two Adams agree to about 1e-7: the old exception for weights
whose gradient is below 1e-6 (where Adam magnifies differences in the gradient) is gone with
the differences it was for.
Skipped (exit 77) where /usr/bin/python3 has no torch."""
import copy
import itertools
import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn as nn
    import torch.optim as optim
except ImportError:
    print("test_parity: skipped, no torch for this python")
    sys.exit(77)

top_srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
top_builddir = os.environ.get("top_builddir", top_srcdir)
sys.path.insert(0, os.path.join(top_srcdir, "tests", "data"))
from safetensors_io import load_file  # noqa: E402
sys.path.insert(0, os.path.join(top_srcdir, "tests"))
from notebook_model import ClassificationCNN  # noqa: E402


failures = 0
checks = 0


def rel_error(got, want):
    """max |got - want| / max |want|"""
    got = got.detach().double().reshape(want.shape)
    want = want.detach().double()
    scale = want.abs().max().item()
    err = (got - want).abs().max().item()
    return err / scale if scale > 0 else err


def close(name, got, want, rtol=1e-4):
    """max |got - want| <= rtol * max |want|"""
    global failures, checks
    checks += 1
    rel = rel_error(got, want)
    if not rel <= rtol:
        failures += 1
        print(f"FAIL {name}: relative difference {rel:.3g} > {rtol}")


TIE = 1e-6      # a near-tie: closer than this, relative to the layer's largest activation


def windows(a):
    """the 2 x 2 windows of MaxPool2d(2) over a [N,C,H,W]: [N,C,H/2,W/2,4], row by row"""
    N, C, H, W = a.shape
    a = a[:, :, :H // 2 * 2, :W // 2 * 2].reshape(N, C, H // 2, 2, W // 2, 2)
    return a.permute(0, 1, 2, 4, 3, 5).reshape(N, C, H // 2, W // 2, 4)


def near_ties(model, x):
    """[(pool, window, choices)]: each ReLU + MaxPool2d window of model.conv_layers on x
    (in float64) that float32 may decide either way, with the ways it may go: an index
    into the window (where its value and gradient come from), or -1 (the ReLU closed)"""
    found, pool, h = [], 0, x.double()
    for layer in copy.deepcopy(model).double().conv_layers:
        if isinstance(layer, nn.Conv2d):
            h = layer(h)
        elif isinstance(layer, nn.MaxPool2d):
            win = windows(h)
            scale = h.abs().max().item()
            top = win.topk(2, dim=-1)
            v0, v1 = top.values[..., 0], top.values[..., 1]
            for w in ((v0 > 0) & (v0 - v1 < TIE * scale)).nonzero().tolist():
                found.append((pool, tuple(w), (top.indices[tuple(w) + (0,)].item(), top.indices[tuple(w) + (1,)].item())))
            for w in (v0.abs() < TIE * scale).nonzero().tolist():
                found.append((pool, tuple(w), (top.indices[tuple(w) + (0,)].item(), -1)))
            h = torch.relu(v0)
            pool += 1
    return found


def forward(model, x, picks):
    """model on x in float32, the ReLU + MaxPool2d windows in picks ({(pool, window):
    choice}) decided as given, the others as usual"""
    h, pool = x, 0
    for layer in model.conv_layers:
        if isinstance(layer, nn.Conv2d):
            h = layer(h)
        elif isinstance(layer, nn.MaxPool2d):
            pre = windows(h)
            win = torch.relu(pre)
            pick = win.detach().argmax(dim=-1)
            use_pre = torch.zeros_like(pick, dtype=torch.bool)  # a ReLU open where PyTorch's is closed
            gate = torch.ones_like(win[..., 0])
            for (p, w), choice in picks.items():
                if p != pool:
                    continue
                if choice < 0:
                    gate[w] = 0.0
                else:
                    pick[w] = choice
                    use_pre[w] = pre.detach()[w + (choice,)] <= 0
            idx = pick.unsqueeze(-1)
            h = torch.where(use_pre, pre.gather(-1, idx).squeeze(-1), win.gather(-1, idx).squeeze(-1)) * gate
            pool += 1
    return model.fc_layers(h)


def check_step(model, t, step, criterion):
    """the step's logits, loss and gradients against cnnc's, for every way its near-ties
    may fall; passes if one of them matches"""
    x, y = t[f"input.{step}"], t[f"target.{step}"].long()
    ties = near_ties(model, x)
    if len(ties) > 6:
        return [f"step {step}: {len(ties)} near-ties, too many to try"]
    best = None
    for ways in itertools.product(*(choices for _, _, choices in ties)):
        picks = {(pool, w): c for (pool, w, _), c in zip(ties, ways)}
        model.zero_grad()
        logits = forward(model, x, picks)
        loss = criterion(logits, y)
        loss.backward()
        errs = [(f"step {step}: logits", rel_error(t[f"logits.{step}"], logits)),
                (f"step {step}: loss", rel_error(t[f"loss.{step}"], loss.reshape(1)))]
        errs += [(f"step {step}: grad of {name}", rel_error(t[f"grad.{step}.{name}"], p.grad))
                 for name, p in model.named_parameters()]
        bad = [f"{name}: relative difference {rel:.3g} > 0.0001" for name, rel in errs if not rel <= 1e-4]
        if best is None or len(bad) < len(best):
            best = bad
        if not bad:
            if ties:
                print(f"step {step}: {len(ties)} near-tie(s) in the pooling, cnnc decided them as {ways}")
            break
    return best


def main():
    global failures, checks
    torch.manual_seed(0)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "parity.safetensors")
        subprocess.run([os.path.join(top_builddir, "tests", "parity", "parity_dump"),
                        os.path.join(top_srcdir, "models", "sea_nodropout.cnn"), out], check=True)
        t = load_file(out)
    model = ClassificationCNN(dropout=None)
    criterion = nn.CrossEntropyLoss()
    for step in range(3):
        start = "init." if step == 0 else f"weights.{step}."
        model.load_state_dict({k[len(start):]: v for k, v in t.items() if k.startswith(start)}, strict=True)
        checks += 1
        bad = check_step(model, t, step, criterion)
        if bad:
            failures += 1
            print("FAIL " + "\nFAIL ".join(bad))

    lr = 0.001
    model.load_state_dict({k[len("init."):]: v for k, v in t.items() if k.startswith("init.")}, strict=True)
    opt = optim.Adam(model.parameters(), lr=lr)
    for step in range(3):
        for name, p in model.named_parameters():
            p.grad = t[f"grad.{step}.{name}"].clone()
        opt.step()
    for name, p in model.named_parameters():
        close("after 3 Adam steps: " + name, t["final." + name], p)
    print(f"test_parity: {checks} checks, {failures} failed")
    return 1 if failures else 0


sys.exit(main())
