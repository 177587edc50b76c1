#!/usr/bin/python3
"""tests/parity/test_zoo_keys.py: models/resnet18.cnn and models/mobilenet_v2.cnn against
torchvision's resnet18() and mobilenet_v2(), both ways.

cnnc to torchvision: parity_dump --init writes the model file cnnc starts training from
(model_save of the freshly initialised, unfused graph); torchvision's module must load it strictly
(every key, no more, each shape), with num_batches_tracked as int64, BatchNorm initialised
as PyTorch does (weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0)
and every convolution's and Linear's weight inside PyTorch's default bound 1/sqrt(fan_in).

torchvision to cnnc: a state_dict of torchvision's module (its own initialisation; BatchNorm's
affine parameters drawn at random and its running statistics those of a pass in training
mode; the classifier centred on the images' mean features and scaled so that each image has
its own top class, with probabilities far from uniform), saved as safetensors by
tests/data/safetensors_io.py, must load strictly into cnnc (--weights), and cnnc's --predict
probabilities for three images must be within 1e-4 of torchvision's in eval mode, with the
same top class. The images are 256 pixels on their shorter side, and the transform is
torchvision's ImageNet one (Resize(256), CenterCrop(224), ToTensor(), Normalize with
ImageNet's mean and std), so both sides see the same pixels (Resize to the size the image
already has changes nothing). The test appends that transform and a validation set (the
folder of those images; only its transform is used) to a copy of each .cnn file, which
itself declares no data. --predict prints 4 decimals, so up to 5e-5 of the 1e-4 is rounding.
Skipped (exit 77) where /usr/bin/python3 has no torch, torchvision or PIL."""
import os
import re
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms
except ImportError:
    print("test_zoo_keys: skipped, no torch/torchvision/PIL for this python")
    sys.exit(77)

top_srcdir = os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", ".."))
top_builddir = os.environ.get("top_builddir", top_srcdir)
sys.path.insert(0, os.path.join(top_srcdir, "tests", "data"))
from safetensors_io import load_file, save_file  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
TRANSFORM = (f"transform = Compose(Resize(256), CenterCrop(224), ToTensor(), "
             f"Normalize(mean={MEAN}, std={STD}))\n")
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL " + msg)


def cnnc_to_torch(name, tmp):
    path = os.path.join(tmp, name + ".init.safetensors")
    r = subprocess.run([os.path.join(top_builddir, "tests", "parity", "parity_dump"), "--init",
                        os.path.join(top_srcdir, "models", name + ".cnn"), path], capture_output=True, text=True)
    if r.returncode != 0:
        return fail(f"{name}: parity_dump --init failed: {r.stderr.strip()}")
    t = load_file(path)
    model = getattr(torchvision.models, name)()
    try:
        model.load_state_dict(t, strict=True)
    except RuntimeError as e:
        return fail(f"{name}: cnnc's model file does not load strictly into torchvision's: {str(e)[:600]}")
    modules = dict(model.named_modules())
    for key, v in t.items():
        owner, field = key.rsplit(".", 1)
        m = modules[owner]
        if isinstance(m, torch.nn.BatchNorm2d):
            want = {"weight": 1, "bias": 0, "running_mean": 0, "running_var": 1, "num_batches_tracked": 0}[field]
            if field == "num_batches_tracked" and v.dtype != torch.int64:
                fail(f"{name}: {key} is {v.dtype} in cnnc's file; PyTorch saves int64")
            if not bool((v == want).all()):
                fail(f"{name}: {key} is not PyTorch's initial {want}")
        elif field == "weight" and isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            bound = 1 / np.sqrt(v[0].numel())
            if v.abs().max().item() > bound or v.abs().max().item() < bound / 2:
                fail(f"{name}: {key} reaches {v.abs().max().item():.4g}, PyTorch's default init {bound:.4g}")
    print(f"{name}: cnnc's initial model file ({len(t)} tensors) loads strictly into torchvision's")


def images(folder):
    """three smooth random RGB images, 256 pixels on the shorter side"""
    g = np.random.default_rng(3)
    paths = []
    for i, (w, h) in enumerate([(256, 256), (320, 256), (256, 300)]):
        small = g.integers(0, 256, size=(h // 16 + 1, w // 16 + 1, 3)).astype(np.float64)
        big = np.kron(small, np.ones((16, 16, 1)))[:h, :w] + g.normal(0, 12, size=(h, w, 3))
        path = os.path.join(folder, f"img{i}.png")
        Image.fromarray(np.clip(big, 0, 255).astype(np.uint8), "RGB").save(path)
        paths.append(path)
    return paths


def torch_to_cnnc(name, tmp, paths):
    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize(MEAN, STD)])
    x = torch.stack([tf(Image.open(p).convert("RGB")) for p in paths])
    torch.manual_seed(7)
    model = getattr(torchvision.models, name)()
    last = model.fc if name == "resnet18" else model.classifier[1]
    seen = {}
    last.register_forward_hook(lambda m, i, o: seen.__setitem__("features", i[0]))
    with torch.no_grad():
        # BatchNorm: random affine parameters, running statistics of a pass in training mode
        # (momentum None: their plain average), so eval mode normalises real activations
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.num_features))
                m.bias.copy_(torch.randn(m.num_features) * 0.2)
                m.momentum = None
        model.train()
        model(torch.randn(8, 3, 224, 224) * 0.5 + x.mean(0))
        model.eval()
        # the classifier reads the features' differences from their mean over the images,
        # scaled to logits of standard deviation 3, so each image has its own top class
        model(x)
        mean = seen["features"].mean(0)
        last.weight.mul_(3 / ((seen["features"] - mean) @ last.weight.t()).std().item())
        last.bias.copy_(-(last.weight @ mean))
        want = torch.softmax(model(x), dim=1)
    weights = os.path.join(tmp, name + ".torch.safetensors")
    save_file(model.state_dict(), weights, metadata={"format": "pt"})
    cnn = os.path.join(tmp, name + ".cnn")
    with open(os.path.join(top_srcdir, "models", name + ".cnn")) as f, open(cnn, "w") as g:
        g.write(f.read() + "\n" + TRANSFORM +
                f'validation_dataset = ImageFolder("{os.path.join(tmp, "val")}", transform=transform)\n')
    r = subprocess.run([os.path.join(top_builddir, "cnnc"), cnn, "--predict", *paths, "--weights", weights,
                        "--threads", "2"], capture_output=True, text=True)
    if r.returncode != 0:
        return fail(f"{name}: cnnc --predict with torchvision's weights failed: {r.stderr.strip()[:600]}")
    lines = r.stdout.strip().splitlines()
    if len(lines) != len(paths):
        return fail(f"{name}: {len(lines)} lines from --predict for {len(paths)} images")
    worst = 0.0
    for i, line in enumerate(lines):
        probs = [float(v) for v in re.findall(r" (\d+\.\d+)(?:,|\)$)", line)]
        if len(probs) != 1000:
            fail(f"{name}: {len(probs)} probabilities in --predict's line for {paths[i]}")
            continue
        got = torch.tensor(probs, dtype=torch.float64)
        err = (got - want[i].double()).abs().max().item()
        worst = max(worst, err)
        if not err <= 1e-4:
            fail(f"{name}: {paths[i]}: probabilities differ from torchvision's by {err:.3g} > 1e-4")
        if got.argmax().item() != want[i].argmax().item():
            fail(f"{name}: {paths[i]}: top class {got.argmax().item()}, torchvision's {want[i].argmax().item()}")
    print(f"{name}: torchvision's weights in cnnc: --predict within {worst:.2g} of torchvision "
          f"(top probabilities {[round(p, 3) for p in want.max(dim=1).values.tolist()]})")


def main():
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "val", "images"))
        paths = images(os.path.join(tmp, "val", "images"))
        for name in ("resnet18", "mobilenet_v2"):
            cnnc_to_torch(name, tmp)
            torch_to_cnnc(name, tmp, paths)
    print(f"test_zoo_keys: {failures} failed")
    return 1 if failures else 0


sys.exit(main())
