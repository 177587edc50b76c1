#!/usr/bin/python3
"""tests/parity/test_optim_torch.py: cnnc's optimizers, parameter groups and loss options against
torch.optim and torch.nn's losses (1.13) on the same weights, batches and gradients.

For each case a small model (Conv2d, ReLU, Flatten, Linear) is written to a .cnn file with the
case's `optimizer = ...` line; parity_dump runs cnnc's graph for three steps on fixed batches
and writes the initial weights, each step's gradients and the final weights. PyTorch builds
the same model (cnn_torch.build), evaluates the very same optimizer expression with torch.optim's
classes over its parameters, feeds it cnnc's gradients step by step and must reach cnnc's final
weights within 1e-5 relative (max |cnnc - torch| / max |torch| per tensor). Parameter groups,
dict(params=SELECT, ...), become torch's groups of the parameters SELECT names (fnmatch over
the state_dict keys; biases; norm: the BatchNorm layers'; rest), in the model with a
BatchNorm1d so that 'norm' selects something.

Loss options: the model is written with the case's `criterion = ...` line (NLLLoss after a
LogSoftmax); for each of the three steps PyTorch loads the weights the step starts from, runs
the batch through the same criterion expression (torch.nn's class, the weight list as a tensor)
and must give cnnc's loss and every parameter's gradient within 1e-5 relative. The ignored
class occurs among the labels (checked), so ignore_index is exercised.

Gradient clipping: the file ends with the case's clip_grad_norm_ / clip_grad_value_ statement;
PyTorch sets cnnc's gradients (taken before clipping), runs the same statement through
torch.nn.utils, steps the same optimizer and must reach cnnc's weights within 1e-5; each case
clips in at least one step (checked: the total norm above max_norm, or a gradient beyond
clip_value).
Skipped (exit 77) where /usr/bin/python3 has no torch."""
import fnmatch
import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.optim as optim
except ImportError:
    print("test_optim_torch: skipped, no torch for this python")
    sys.exit(77)

top_srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
top_builddir = os.environ.get("top_builddir", top_srcdir)
sys.path.insert(0, os.path.join(top_srcdir, "tests", "data"))
sys.path.insert(0, os.path.join(top_srcdir, "tests", "parity"))
from safetensors_io import load_file  # noqa: E402
import cnn_torch  # noqa: E402
from tally import Tally, state  # noqa: E402

STEPS = 3
MODEL_BODY = """
model Small {
    input [1, 8, 8]
    features = Sequential(
        Conv2d(1, 4, kernel_size=3),
        ReLU(),
        Flatten(),
        Linear(144, 5)%s)
}
train_dataset = ImageFolder("data/train", transform=ToTensor())
"""
MODEL = MODEL_BODY % "" + "criterion = CrossEntropyLoss()\n"

CASES = [
    "AdamW(model.parameters(), lr=0.01)",
    "AdamW(model.parameters(), lr=0.01, weight_decay=0.5, betas=(0.8, 0.99))",
    "AdamW(model.parameters(), lr=0.01, amsgrad=True)",
    "Adam(model.parameters(), lr=0.01, amsgrad=True)",
    "Adam(model.parameters(), lr=0.01, weight_decay=0.1, amsgrad=True)",
    "RMSprop(model.parameters())",
    "RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-6)",
    "RMSprop(model.parameters(), lr=0.01, momentum=0.9)",
    "RMSprop(model.parameters(), lr=0.01, centered=True)",
    "RMSprop(model.parameters(), lr=0.01, weight_decay=0.1)",
    "RMSprop(model.parameters(), lr=0.01, momentum=0.5, centered=True, weight_decay=0.01)",
    "AdamW([dict(params='biases', weight_decay=0.0), dict(params='rest')], lr=0.01, weight_decay=0.1)",
    "AdamW([dict(params=['norm', 'biases'], weight_decay=0.0), dict(params='rest', amsgrad=True)], lr=0.01)",
    "SGD([dict(params='features.0.*', lr=0.05), dict(params='rest', momentum=0.5)], lr=0.01, momentum=0.9)",
    "RMSprop([dict(params='*.bias', centered=True), dict(params='rest', alpha=0.9, momentum=0.3)], lr=0.01)",
    "Adam([dict(params='*.weight', amsgrad=True, betas=(0.8, 0.9)), dict(params='*.bias', lr=0.1)], lr=0.01)",
]

LOSSES = [
    "CrossEntropyLoss(label_smoothing=0.1)",
    "CrossEntropyLoss(reduction='sum')",
    "CrossEntropyLoss(weight=[1.0, 2.0, 0.5, 3.0, 1.5])",
    "CrossEntropyLoss(ignore_index=2)",
    "CrossEntropyLoss(weight=[1.0, 2.0, 0.5, 3.0, 1.5], label_smoothing=0.2, ignore_index=2)",
    "CrossEntropyLoss(weight=[1.0, 2.0, 0.5, 3.0, 1.5], label_smoothing=0.3, reduction='sum')",
    "CrossEntropyLoss(label_smoothing=0.25, ignore_index=2)",
    "NLLLoss(weight=[1.0, 2.0, 0.5, 3.0, 1.5])",
    "NLLLoss(ignore_index=2, reduction='sum')",
    "NLLLoss(weight=[1.0, 2.0, 0.5, 3.0, 1.5], ignore_index=2)",
]

tally = Tally("test_optim_torch", rtol=1e-5)
close = tally.close


def dump(tmp, text):
    """parity_dump on a .cnn file holding text: its tensors"""
    path = os.path.join(tmp, "case.cnn")
    with open(path, "w") as f:
        f.write(text)
    out = os.path.join(tmp, "case.safetensors")
    subprocess.run([os.path.join(top_builddir, "tests", "parity", "parity_dump"), path, out], check=True)
    return path, load_file(out)


def torch_groups(model, cls):
    """cls taking cnnc's groups, dict(params=SELECT, ...), as torch's"""
    names = dict(model.named_parameters())
    norm = {f"{m}.{k}" for m, mod in model.named_modules() if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm)
            for k in ("weight", "bias")}

    def selects(pattern, key):
        return (key.endswith(".bias") if pattern == "biases" else key in norm if pattern == "norm"
                else pattern != "rest" and fnmatch.fnmatchcase(key, pattern))

    def make(params, **kw):
        if not isinstance(params, list):
            return cls(params, **kw)
        groups, taken = [], set()
        for g in params:
            sel = g["params"] if isinstance(g["params"], list) else [g["params"]]
            keys = [k for k in names if any(selects(s, k) for s in sel)]
            taken.update(keys)
            groups.append((sel, keys, {k: v for k, v in g.items() if k != "params"}))
        for sel, keys, _ in groups:
            if "rest" in sel:
                keys.extend(k for k in names if k not in taken)
        return cls([dict(params=[names[k] for k in keys], **o) for _, keys, o in groups], **kw)
    return make


def check_optimizer(tmp, expr):
    text = MODEL_BODY % ",\n        BatchNorm1d(5)" + "criterion = CrossEntropyLoss()\n"
    path, t = dump(tmp, text + f"optimizer = {expr}\n")
    model, _ = cnn_torch.build(path)
    model.load_state_dict(state(t, "init."), strict=True)
    opt = eval(expr, {"model": model, "AdamW": torch_groups(model, optim.AdamW), "Adam": torch_groups(model, optim.Adam),
                      "RMSprop": torch_groups(model, optim.RMSprop), "SGD": torch_groups(model, optim.SGD),
                      "True": True, "False": False})
    changed = False
    for step in range(STEPS):
        for key, p in model.named_parameters():
            p.grad = t[f"grad.{step}.{key}"].clone()
        opt.step()
    final = state(t, "final.")
    for key, p in model.named_parameters():
        close(f"{expr}: {key} after {STEPS} steps", final.get(key), p)
        changed |= not torch.equal(p.detach(), t[f"init.{key}"])
    tally.check(changed, f"{expr}: no weight moved")


CLIPS = [
    ("clip_grad_norm_(model.parameters(), max_norm=0.05)", "SGD(model.parameters(), lr=0.1)"),
    ("torch.nn.utils.clip_grad_norm_(model.parameters(), 0.05, norm_type=1.0)", "SGD(model.parameters(), lr=0.1)"),
    ("nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.02, norm_type='inf')",
     "SGD(model.parameters(), lr=0.1, momentum=0.9)"),
    ("clip_grad_norm_(model.parameters(), max_norm=0.1, norm_type=3.0)", "Adam(model.parameters(), lr=0.01)"),
    ("clip_grad_value_(model.parameters(), clip_value=0.01)", "SGD(model.parameters(), lr=0.1)"),
    ("torch.nn.utils.clip_grad_value_(model.parameters(), 0.005)", "AdamW(model.parameters(), lr=0.01)"),
]


def check_clip(tmp, stmt, expr):
    path, t = dump(tmp, MODEL + f"optimizer = {expr}\n{stmt}\n")
    model, _ = cnn_torch.build(path)
    model.load_state_dict(state(t, "init."), strict=True)
    env = {"model": model, "AdamW": optim.AdamW, "Adam": optim.Adam, "SGD": optim.SGD, "torch": torch,
           "nn": torch.nn, "clip_grad_norm_": torch.nn.utils.clip_grad_norm_,
           "clip_grad_value_": torch.nn.utils.clip_grad_value_}
    opt = eval(expr, env)
    clipped = False
    for step in range(STEPS):
        for key, p in model.named_parameters():
            p.grad = t[f"grad.{step}.{key}"].clone()
        before = [p.grad.clone() for p in model.parameters()]
        eval(stmt, env)
        clipped |= any(not torch.equal(b, p.grad) for b, p in zip(before, model.parameters()))
        opt.step()
    final = state(t, "final.")
    for key, p in model.named_parameters():
        close(f"{stmt} with {expr}: {key} after {STEPS} steps", final.get(key), p)
    tally.check(clipped, f"{stmt}: clips nothing in these steps")


def torch_loss(cls):
    """torch.nn's loss class cls, taking weight as a list as cnnc does"""
    def make(weight=None, **kw):
        return cls(weight=None if weight is None else torch.tensor(weight), **kw)
    return make


def check_loss(tmp, expr):
    nll = expr.startswith("NLLLoss")
    text = MODEL_BODY % (",\n        LogSoftmax(dim=1)" if nll else "")
    path, t = dump(tmp, text + f"criterion = {expr}\noptimizer = SGD(model.parameters(), lr=0.1)\n")
    model, _ = cnn_torch.build(path)
    criterion = eval(expr, {"CrossEntropyLoss": torch_loss(torch.nn.CrossEntropyLoss),
                            "NLLLoss": torch_loss(torch.nn.NLLLoss)})
    labels = torch.cat([t[f"target.{s}"].long() for s in range(STEPS)])
    if "ignore_index=2" in expr:
        tally.check((labels == 2).any(), f"{expr}: no label is 2, ignore_index is not exercised")
    for step in range(STEPS):
        model.load_state_dict(state(t, "init." if step == 0 else f"weights.{step}."), strict=True)
        model.zero_grad()
        loss = criterion(model(t[f"input.{step}"]), t[f"target.{step}"].long())
        loss.backward()
        close(f"{expr} step {step}: loss", t[f"loss.{step}"], loss.reshape(1))
        for key, p in model.named_parameters():
            close(f"{expr} step {step}: grad of {key}", t.get(f"grad.{step}.{key}"), p.grad)


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        for expr in CASES:
            check_optimizer(tmp, expr)
        for expr in LOSSES:
            check_loss(tmp, expr)
        for stmt, expr in CLIPS:
            check_clip(tmp, stmt, expr)
    return tally.done()


sys.exit(main())
