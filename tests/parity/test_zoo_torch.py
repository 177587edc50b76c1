#!/usr/bin/python3
"""tests/parity/test_zoo_torch.py: each model of the zoo (models/fashion_resnet.cnn,
lenet5.cnn, resnet18.cnn, mobilenet_v2.cnn), read as the PyTorch it is written in
(cnn_torch.py), is the network it claims to be: the same state_dict keys, in the same order,
with the same shapes as torchvision's resnet18() and mobilenet_v2() and as
bench/torch_models.py's FashionResNet and LeNet5 (which the benchmarks and the parity test
use), and, loaded strictly with the reference's weights and BatchNorm buffers (made
nontrivial), the same logits in eval mode and in training mode (Dropout off), with the same
running statistics after the training-mode pass. This checks the files themselves; whether
cnnc compiles them to the same numbers is test_zoo_keys.py's and test_parity_zoo.py's job.
Skipped (exit 77) where /usr/bin/python3 has no torch or torchvision."""
import os
import sys

try:
    import torch
    import torchvision  # noqa: F401
except ImportError:
    print("test_zoo_torch: skipped, no torch/torchvision for this python")
    sys.exit(77)

top_srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(top_srcdir, "tests", "parity"))
sys.path.insert(0, os.path.join(top_srcdir, "bench"))
from cnn_torch import build  # noqa: E402
from torch_models import MODELS  # noqa: E402


def nontrivial(model, gen):
    """model's weights as initialised, BatchNorm's affine parameters and running statistics
    drawn at random (fresh ones are 1 and 0, which would hide a missing or misplaced layer)"""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=gen))
                m.bias.copy_(torch.randn(n, generator=gen) * 0.2)
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
                m.num_batches_tracked.fill_(7)
    return model


def main():
    failures = 0
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(13)
    for name in ("fashion_resnet", "lenet5", "resnet18", "mobilenet_v2"):
        model, shape = build(os.path.join(top_srcdir, "models", name + ".cnn"))
        ctor, ref_shape, classes = MODELS[name]
        ref = nontrivial(ctor(), gen)
        bad = []
        if shape != ref_shape:
            bad.append(f"input {shape}, the reference takes {ref_shape}")
        got = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
        want = [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
        if got != want:
            diff = sorted(set(got) ^ set(want))[:4]
            bad.append(f"state_dict keys or shapes differ from the reference's (first differences: {diff})"
                       if diff else "state_dict keys in another order than the reference's")
        else:
            model.load_state_dict(ref.state_dict(), strict=True)
            batch = 2 if name in ("resnet18", "mobilenet_v2") else 8
            x = torch.randn(batch, *shape, generator=gen)
            for mode in ("eval", "train"):
                for m in (model, ref):
                    m.train(mode == "train")
                    for d in m.modules():
                        if isinstance(d, torch.nn.Dropout):
                            d.eval()    # Dropout off in both modes
                with torch.no_grad():
                    a, b = model(x), ref(x)
                if a.shape != (batch, classes) or not torch.allclose(a, b, rtol=1e-5, atol=1e-5):
                    bad.append(f"{mode} mode: logits {tuple(a.shape)} differ from the reference's by "
                               f"{(a - b).abs().max().item() if a.shape == b.shape else 'shape'}")
            for (k, v), (_, w) in zip(model.state_dict().items(), ref.state_dict().items()):
                if not torch.allclose(v.double(), w.double(), rtol=1e-5, atol=1e-6):
                    bad.append(f"after the training-mode pass, {k} differs from the reference's")
                    break
        for b in bad:
            print(f"FAIL models/{name}.cnn: {b}")
        failures += len(bad) > 0
        print(f"models/{name}.cnn: {len(got)} state_dict entries, {'ok' if not bad else 'FAILED'}")
    print(f"test_zoo_torch: 4 models, {failures} failed")
    return 1 if failures else 0


sys.exit(main())
