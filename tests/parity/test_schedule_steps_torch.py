#!/usr/bin/python3
"""tests/parity/test_schedule_steps_torch.py: training steps under a learning-rate scheduler,
cnnc against torch.optim with torch.optim.lr_scheduler on the same gradients.

For each case a small .cnn model declares an optimizer and a scheduler; parity_dump
(tests/parity/parity_dump.c) takes three training steps on fixed batches, stepping the
scheduler after each (each step counting as an epoch for the per-epoch schedulers), and
writes the initial weights, each step's gradients and loss, and the final weights. torch's
optimizer and scheduler, fed cnnc's gradients (and losses, for ReduceLROnPlateau), take the
same three steps from the same weights and must reach cnnc's final weights to 1e-5 relative
(max |cnnc - torch| / max |torch| per tensor). The cases exercise what a scheduler changes
between steps: the lr of Adam and SGD, and OneCycleLR's cycling of Adam's beta1 (which
enters Adam's bias correction) and of SGD's momentum (which gives a plain SGD a momentum
buffer). Skipped (exit 77) where /usr/bin/python3 has no torch."""
import os
import subprocess
import sys
import tempfile
import warnings

try:
    import torch
except ImportError:
    print("test_schedule_steps_torch: skipped, no torch for this python")
    sys.exit(77)

top_srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
top_builddir = os.environ.get("top_builddir", top_srcdir)
sys.path.insert(0, os.path.join(top_srcdir, "tests", "data"))
from safetensors_io import load_file  # noqa: E402

PARITY_DUMP = os.path.join(top_builddir, "tests", "parity", "parity_dump")
STEPS = 3
S = torch.optim.lr_scheduler
MODEL = """model M {
    input [1, 6, 6]
    features = Sequential(Conv2d(1, 4, 3), ReLU(), Flatten())
    classifier = Linear(64, 3)
}
train_dataset = ImageFolder("data/train", transform=Compose(ToTensor()))
test_dataset = ImageFolder("data/test", transform=Compose(ToTensor()))
criterion = CrossEntropyLoss()
"""

# (name, optimizer, scheduler, torch's optimizer(params), torch's scheduler(opt))
CASES = [
    ("Adam, OneCycleLR cycling beta1", "Adam(model.parameters(), lr=0.001)",
     "OneCycleLR(optimizer, max_lr=0.05, total_steps=3, pct_start=0.5)",
     lambda ps: torch.optim.Adam(ps, lr=0.001), lambda o: S.OneCycleLR(o, max_lr=0.05, total_steps=3, pct_start=0.5)),
    ("SGD, OneCycleLR cycling the momentum", "SGD(model.parameters(), lr=0.01)",
     "OneCycleLR(optimizer, max_lr=0.2, total_steps=4, anneal_strategy='linear')",
     lambda ps: torch.optim.SGD(ps, lr=0.01),
     lambda o: S.OneCycleLR(o, max_lr=0.2, total_steps=4, anneal_strategy='linear')),
    ("SGD with momentum, StepLR", "SGD(model.parameters(), lr=0.1, momentum=0.9)",
     "StepLR(optimizer, step_size=1, gamma=0.3)",
     lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9), lambda o: S.StepLR(o, step_size=1, gamma=0.3)),
    ("Adam, warm-up then cosine", "Adam(model.parameters(), lr=0.01, weight_decay=0.001)",
     "SequentialLR(optimizer, [LinearLR(optimizer, start_factor=0.2, total_iters=1), "
     "CosineAnnealingLR(optimizer, T_max=2)], milestones=[1])",
     lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.001),
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.2, total_iters=1), S.CosineAnnealingLR(o, T_max=2)],
                              milestones=[1])),
    ("Adam, ReduceLROnPlateau on the losses", "Adam(model.parameters(), lr=0.01)",
     "ReduceLROnPlateau(optimizer, factor=0.5, patience=0, threshold=0.9)",
     lambda ps: torch.optim.Adam(ps, lr=0.01),
     lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=0, threshold=0.9)),
]


def main():
    failures = checks = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, opt_line, sched_line, make_opt, make_sched in CASES:
            cnn, dump = os.path.join(tmp, "m.cnn"), os.path.join(tmp, "m.safetensors")
            with open(cnn, "w") as f:
                f.write(MODEL + "optimizer = " + opt_line + "\nscheduler = " + sched_line + "\n")
            r = subprocess.run([PARITY_DUMP, cnn, dump], capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL {name}: parity_dump: {r.stderr.strip()}")
                failures += 1
                continue
            t = load_file(dump)
            keys = sorted(k[len("final."):] for k in t if k.startswith("final."))
            params = {k: torch.nn.Parameter(t["init." + k].double().clone()) for k in keys}
            opt = make_opt(list(params.values()))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sched = make_sched(opt)
                lrs = []
                for s in range(STEPS):
                    for k, p in params.items():
                        p.grad = t[f"grad.{s}.{k}"].double().clone()
                    lrs.append(opt.param_groups[0]["lr"])
                    opt.step()
                    if isinstance(sched, S.ReduceLROnPlateau):
                        sched.step(float(t[f"loss.{s}"].reshape(-1)[0]))
                    else:
                        sched.step()
            worst = 0.0
            for k, p in params.items():
                want, got = p.detach(), t["final." + k].double()
                err = (got - want).abs().max().item() / max(want.abs().max().item(), 1e-30)
                worst = max(worst, err)
                checks += 1
                if not err <= 1e-5:
                    failures += 1
                    print(f"FAIL {name}: {k} after {STEPS} steps: {err:.3g} relative from torch's")
            moved = max((t["final." + k].double() - t["init." + k].double()).abs().max().item() for k in keys)
            if len(set(lrs)) < 2 or moved == 0:
                failures += 1
                print(f"FAIL {name}: nothing to compare (lrs {lrs}, weights moved {moved})")
            print(f"ok: {name}: lr {', '.join('%.4g' % x for x in lrs)}; final weights within {worst:.2g} of torch's"
                  if worst <= 1e-5 else f"{name}: worst {worst:.3g}")
    print(f"test_schedule_steps_torch: {checks - failures} of {checks} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
