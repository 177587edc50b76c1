#!/usr/bin/python3
"""tests/parity/test_lr_schedulers.py: every learning-rate scheduler of the .cnn language
against torch.optim.lr_scheduler's own, over a whole run.

For each case a .cnn file declares the optimizer and the scheduler as written below;
lr_schedule (C, tests/parity/lr_schedule.c, the driver's stepping over the lowered graph)
prints the lr of every epoch (OneCycleLR: of every batch), and torch steps the same
scheduler the way the usual loop does (per epoch after training; OneCycleLR after each
batch; ReduceLROnPlateau on a fixed sequence of test losses). The sequences must be equal
(torch computes in Python floats, cnnc in doubles: the same numbers), and so must the
momentum the optimizer has at each step (Adam's beta1, SGD's momentum), which OneCycleLR
cycles by default.
Skipped (exit 77) where /usr/bin/python3 has no torch."""
import os
import subprocess
import sys
import tempfile
import warnings

try:
    import torch
except ImportError:
    print("test_lr_schedulers: skipped, no torch for this python")
    sys.exit(77)

top_srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
top_builddir = os.environ.get("top_builddir", top_srcdir)
LR_SCHEDULE = os.path.join(top_builddir, "tests", "parity", "lr_schedule")
S = torch.optim.lr_scheduler

MODEL = """model M {
    input [1, 4, 4]
    net = Sequential(Flatten(), Linear(16, 3))
}
train_dataset = ImageFolder("data/train", transform=Compose(ToTensor()))
test_dataset = ImageFolder("data/test", transform=Compose(ToTensor()))
criterion = CrossEntropyLoss()
"""

# a loss sequence with plateaus, improvements below and above the threshold, and a rise
LOSSES = [1.0, 0.9, 0.9, 0.95, 0.9, 0.89995, 0.91, 0.7, 0.7, 0.7, 0.7, 0.69999, 0.71, 0.72, 0.5,
          0.5, 0.5, 0.5, 0.5, 0.5, 0.49, 0.49, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6] + [0.6] * 15

# (name, optimizer line, scheduler lines, torch builder(opt), epochs, batches per epoch)
CASES = [
    ("StepLR", "Adam(model.parameters(), lr=0.001)", "scheduler = StepLR(optimizer, step_size=5, gamma=0.1)",
     lambda o: S.StepLR(o, step_size=5, gamma=0.1), 30, 1),
    ("StepLR default gamma", "SGD(model.parameters(), lr=0.1, momentum=0.9)", "scheduler = StepLR(optimizer, 3)",
     lambda o: S.StepLR(o, 3), 30, 1),
    ("MultiStepLR", "Adam(model.parameters(), lr=0.003)",
     "scheduler = MultiStepLR(optimizer, milestones=[20, 5, 12, 12], gamma=0.3)",
     lambda o: S.MultiStepLR(o, milestones=[20, 5, 12, 12], gamma=0.3), 30, 1),
    ("ExponentialLR", "Adam(model.parameters(), lr=0.01)", "scheduler = ExponentialLR(optimizer, gamma=0.9)",
     lambda o: S.ExponentialLR(o, gamma=0.9), 30, 1),
    ("CosineAnnealingLR", "Adam(model.parameters(), lr=0.001)",
     "scheduler = CosineAnnealingLR(optimizer, T_max=10, eta_min=1e-5)",
     lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=1e-5), 30, 1),
    ("CosineAnnealingLR whole run", "SGD(model.parameters(), lr=0.05)",
     "scheduler = CosineAnnealingLR(optimizer, 30)", lambda o: S.CosineAnnealingLR(o, 30), 30, 1),
    ("LinearLR", "Adam(model.parameters(), lr=0.001)",
     "scheduler = LinearLR(optimizer, start_factor=0.25, end_factor=0.9, total_iters=8)",
     lambda o: S.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=8), 30, 1),
    ("LinearLR defaults", "Adam(model.parameters(), lr=0.001)", "scheduler = LinearLR(optimizer)",
     lambda o: S.LinearLR(o), 30, 1),
    ("OneCycleLR", "Adam(model.parameters(), lr=0.001)",
     "scheduler = OneCycleLR(optimizer, max_lr=0.1, total_steps=300, cycle_momentum=False)",
     lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=300, cycle_momentum=False), 30, 10),
    ("OneCycleLR cycling Adam's beta1", "Adam(model.parameters(), lr=0.001, betas=(0.8, 0.99))",
     "scheduler = OneCycleLR(optimizer, max_lr=0.01, epochs=20, steps_per_epoch=9)",
     lambda o: S.OneCycleLR(o, max_lr=0.01, epochs=20, steps_per_epoch=9), 20, 9),
    ("OneCycleLR cycling SGD's momentum", "SGD(model.parameters(), lr=0.1)",
     "scheduler = OneCycleLR(optimizer, 0.5, total_steps=120, base_momentum=0.8, max_momentum=0.9, three_phase=True, "
     "anneal_strategy='linear')",
     lambda o: S.OneCycleLR(o, 0.5, total_steps=120, base_momentum=0.8, max_momentum=0.9, three_phase=True,
                            anneal_strategy='linear'), 12, 10),
    ("OneCycleLR three phases, linear", "SGD(model.parameters(), lr=0.01)",
     "scheduler = OneCycleLR(optimizer, 0.05, epochs=30, steps_per_epoch=7, pct_start=0.25, "
     "anneal_strategy='linear', div_factor=10, final_div_factor=100, three_phase=True, cycle_momentum=False)",
     lambda o: S.OneCycleLR(o, 0.05, epochs=30, steps_per_epoch=7, pct_start=0.25, anneal_strategy='linear',
                            div_factor=10, final_div_factor=100, three_phase=True, cycle_momentum=False), 30, 7),
    ("SequentialLR warm-up and cosine", "Adam(model.parameters(), lr=0.001)",
     "scheduler = SequentialLR(optimizer, schedulers=[LinearLR(optimizer, start_factor=0.1, total_iters=5), "
     "CosineAnnealingLR(optimizer, T_max=25)], milestones=[5])",
     lambda o: S.SequentialLR(o, schedulers=[S.LinearLR(o, start_factor=0.1, total_iters=5),
                                             S.CosineAnnealingLR(o, T_max=25)], milestones=[5]), 30, 1),
    ("SequentialLR of names, three", "SGD(model.parameters(), lr=0.1)",
     "warm = ExponentialLR(optimizer, gamma=1.2)\nsteps = StepLR(optimizer, step_size=2, gamma=0.5)\n"
     "late = MultiStepLR(optimizer, milestones=[3, 6])\n"
     "scheduler = SequentialLR(optimizer, [warm, steps, late], milestones=[4, 10])",
     lambda o: S.SequentialLR(o, [S.ExponentialLR(o, gamma=1.2), S.StepLR(o, step_size=2, gamma=0.5),
                                  S.MultiStepLR(o, milestones=[3, 6])], milestones=[4, 10]), 30, 1),
    ("ReduceLROnPlateau", "Adam(model.parameters(), lr=0.01)",
     "scheduler = ReduceLROnPlateau(optimizer, factor=0.5, patience=2, cooldown=1, min_lr=0.0007)",
     lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1, min_lr=0.0007), 30, 1),
    ("ReduceLROnPlateau max, abs", "SGD(model.parameters(), lr=0.1)",
     "scheduler = ReduceLROnPlateau(optimizer, mode='max', factor=0.3, patience=1, threshold=0.01, "
     "threshold_mode='abs')",
     lambda o: S.ReduceLROnPlateau(o, mode='max', factor=0.3, patience=1, threshold=0.01, threshold_mode='abs'),
     30, 1),
    ("ReduceLROnPlateau defaults", "Adam(model.parameters(), lr=0.01)", "scheduler = ReduceLROnPlateau(optimizer)",
     lambda o: S.ReduceLROnPlateau(o, patience=10), 45, 1),
]


def torch_sequence(opt_line, build, epochs, batches):
    p = torch.nn.Parameter(torch.zeros(1))
    kind = opt_line.split("(", 1)[0]
    opt = eval("torch.optim." + opt_line.replace("model.parameters()", "[p]"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = build(opt)
        lrs = []
        for ep in range(epochs):
            for _ in range(batches if isinstance(sched, S.OneCycleLR) else 1):
                g = opt.param_groups[0]
                lrs.append((g["lr"], g["betas"][0] if kind == "Adam" else g["momentum"]))
                opt.step()
                if isinstance(sched, S.OneCycleLR):
                    sched.step()
            if isinstance(sched, S.ReduceLROnPlateau):
                sched.step(LOSSES[ep])
            elif not isinstance(sched, S.OneCycleLR):
                sched.step()
    return lrs


def main():
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, opt_line, sched_lines, build, epochs, batches in CASES:
            path = os.path.join(tmp, "m.cnn")
            with open(path, "w") as f:
                f.write(MODEL + "optimizer = " + opt_line + "\n" + sched_lines + "\n")
            r = subprocess.run([LR_SCHEDULE, path, str(epochs), str(batches)] + ["%.17g" % x for x in LOSSES],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print("FAIL: %s: lr_schedule: %s" % (name, r.stderr.strip()))
                fails += 1
                continue
            adam = opt_line.startswith("Adam")
            ours = [(float(lr), float(b1 if adam else m)) for lr, b1, m in (x.split() for x in r.stdout.splitlines())]
            theirs = torch_sequence(opt_line, build, epochs, batches)
            if len(ours) != len(theirs):
                print("FAIL: %s: %d learning rates, torch has %d" % (name, len(ours), len(theirs)))
                fails += 1
                continue
            bad = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
            if bad:
                i = bad[0]
                print("FAIL: %s: %d of %d (lr, momentum) pairs differ from torch's; the first at %d: %r, torch %r" %
                      (name, len(bad), len(ours), i, ours[i], theirs[i]))
                fails += 1
            elif len(set(x[0] for x in ours)) < 2:
                print("FAIL: %s: the learning rate never changes (%r)" % (name, ours[0]))
                fails += 1
            else:
                moms = sorted(set(x[1] for x in ours))
                print("ok: %s: %d learning rates%s equal torch's (lr from %.6g to %.6g)" %
                      (name, len(ours), " and momenta (%.4g to %.4g)" % (moms[0], moms[-1]) if len(moms) > 1 else "",
                       ours[0][0], ours[-1][0]))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
