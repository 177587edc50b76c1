#!/usr/bin/python3
"""tests/parity/test_parity_zoo.py: cnnc against PyTorch on the zoo's trainable models over
three Adam steps on the same weights and batches: models/fashion_resnet.cnn (a residual
BatchNorm model: the BasicBlock's `out + x`, BatchNorm2d in training mode) and
models/lenet5.cnn (Tanh, AvgPool2d).

parity_dump runs cnnc's graph for the file (Dropout off) and writes each step's starting
state (parameters and BatchNorm buffers under their state_dict keys), batch, logits, loss
and gradients, and the state after the steps. Here bench/torch_models.py's FashionResNet or
LeNet5 (whose keys test_zoo_torch.py holds to the .cnn files) loads each step's state strictly,
recomputes the step in training mode and must agree to 1e-4 relative (max |cnnc - torch| /
max |torch| per tensor): the logits, the loss, the gradient of every parameter, and the
BatchNorm buffers the step leaves (running_mean and running_var updated with momentum 0.1
and the unbiased variance; num_batches_tracked, an int64 in the file, exactly). Then
torch.optim.Adam, fed cnnc's gradients, takes the three steps from the initial weights and
must reach cnnc's final weights. Each step starts from cnnc's own state, so last-bit
differences do not pile up; the batches and weights are fixed (parity_dump's seeds), so the
outcome does not vary from run to run. (A max-pool window whose two largest values float32
cannot tell apart could send a gradient elsewhere than PyTorch does: test_parity.py's
near-tie search handles that for the notebook's model; with these fixed inputs none occurs.)
Skipped (exit 77) where /usr/bin/python3 has no torch."""
import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn as nn
    import torch.optim as optim
except ImportError:
    print("test_parity_zoo: skipped, no torch for this python")
    sys.exit(77)

top_srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
top_builddir = os.environ.get("top_builddir", top_srcdir)
sys.path.insert(0, os.path.join(top_srcdir, "tests", "data"))
sys.path.insert(0, os.path.join(top_srcdir, "bench"))
from safetensors_io import load_file  # noqa: E402
from torch_models import FashionResNet, LeNet5  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tally import Tally, state  # noqa: E402

STEPS = 3
tally = Tally("test_parity_zoo", rtol=1e-4)
close = tally.close


def check_model(name, model, scheduler=None):
    """parity_dump on models/NAME.cnn, replayed in model; scheduler(optimizer), when given, is
    the file's learning-rate schedule, stepped after each step as cnnc does"""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "parity.safetensors")
        subprocess.run([os.path.join(top_builddir, "tests", "parity", "parity_dump"),
                        os.path.join(top_srcdir, "models", name + ".cnn"), out], check=True)
        t = load_file(out)
    buffers = [b for b, _ in model.named_buffers()]
    criterion = nn.CrossEntropyLoss()
    init = state(t, "init.")
    for b in buffers:
        if b.endswith("num_batches_tracked"):
            tally.check(init.get(b) is not None and init[b].dtype == torch.int64,
                        f"{name}: {b}: {init[b].dtype if b in init else 'absent'} in cnnc's dump, "
                        "PyTorch saves it as int64")
    for step in range(STEPS):
        start = state(t, "init." if step == 0 else f"weights.{step}.")
        after = state(t, "final." if step == STEPS - 1 else f"weights.{step + 1}.")
        model.load_state_dict(start, strict=True)
        model.train()
        model.zero_grad()
        x, y = t[f"input.{step}"], t[f"target.{step}"].long()
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        close(f"{name} step {step}: logits", t[f"logits.{step}"], logits)
        close(f"{name} step {step}: loss", t[f"loss.{step}"], loss.reshape(1))
        for key, p in model.named_parameters():
            close(f"{name} step {step}: grad of {key}", t.get(f"grad.{step}.{key}"), p.grad)
        for key, b in model.named_buffers():
            if key.endswith("num_batches_tracked"):
                tally.check(after.get(key) is not None and after[key].long().item() == b.item(),
                            f"{name} step {step}: {key} is {after.get(key)}, PyTorch's {b.item()}")
            else:
                close(f"{name} step {step}: {key} after the step", after.get(key), b)

    model.load_state_dict(init, strict=True)
    opt = optim.Adam(model.parameters(), lr=0.001)
    sched = scheduler(opt) if scheduler else None
    for step in range(STEPS):
        for key, p in model.named_parameters():
            p.grad = t[f"grad.{step}.{key}"].clone()
        opt.step()
        if sched:
            sched.step()
    final = state(t, "final.")
    for key, p in model.named_parameters():
        close(f"{name} after 3 Adam steps: {key}", final.get(key), p)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    check_model("fashion_resnet", FashionResNet(dropout=None),    # its OneCycleLR, Adam's beta1 cycling too
                lambda opt: optim.lr_scheduler.OneCycleLR(opt, max_lr=0.005, epochs=10, steps_per_epoch=938))
    check_model("lenet5", LeNet5())
    return tally.done()


sys.exit(main())
