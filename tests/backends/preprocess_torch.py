"""tests/backends/preprocess_torch.py: the generated preprocess function against torchvision.
  preprocess_torch.py TRANSFORM GOT IMG...
TRANSFORM is the eval transform as torchvision code (T is torchvision.transforms); GOT is
what tests/backends/emit_main.c printed for IMG... (a class line, then an "input" line, per
image). Each input tensor must equal torchvision's on the PIL image (convert('RGB')) within
one grey level of PIL's resampling (the runtime's tolerance against PIL, tests/data) plus
1e-6. Prints the largest difference; exit 77 without torch, torchvision or PIL."""
import sys

try:
    import numpy as np
    import torchvision.transforms as T
    from PIL import Image
except ImportError:
    print("skip: no torch/torchvision/PIL", file=sys.stderr)
    sys.exit(77)


def main():
    transform = eval(sys.argv[1], {"T": T})
    lines = open(sys.argv[2]).read().split("\n")
    stds = [t.std for t in transform.transforms if isinstance(t, T.Normalize)]
    grey = 1.0 / 255 / min(stds[0]) if stds else 1.0 / 255
    worst, bad = 0.0, 0
    for i, path in enumerate(sys.argv[3:]):
        fields = lines[2 * i + 1].split()
        if not fields or fields[0] != "input":
            print(f"FAIL {path}: no input line in {sys.argv[2]}", file=sys.stderr)
            return 1
        ours = np.array(fields[1:], dtype=np.float64)
        theirs = transform(Image.open(path).convert("RGB")).numpy().astype(np.float64).ravel()
        if ours.size != theirs.size:
            print(f"FAIL {path}: {ours.size} values against torchvision's {theirs.size}", file=sys.stderr)
            return 1
        d = np.abs(ours - theirs).max()
        worst = max(worst, d)
        if d > grey + 1e-6:
            print(f"FAIL {path}: differs from torchvision by {d} (> one grey level, {grey})", file=sys.stderr)
            bad = 1
        exact = np.mean(np.abs(ours - theirs) <= 1e-6)
        if exact < 0.99:
            print(f"FAIL {path}: only {100 * exact:.2f}% of values within 1e-6 of torchvision's", file=sys.stderr)
            bad = 1
        print(f"{path}: max difference {d:.3g}, {100 * exact:.2f}% of values within 1e-6")
    return bad


sys.exit(main())
