"""tests/data/test_imagefolder_py.py: cnnc's ImageFolder, image conversion, ToTensor and
Normalize against torchvision's on the same folder: same classes, same samples in the same
order, same targets, and the same tensors (bit for bit for lossless formats; within 3 grey
levels for JPEG, which stb_image and libjpeg decode slightly differently). The folder mixes
PIL modes L, LA, RGB, RGBA, P (with and without transparency), PNG, BMP, PPM/PGM and JPEG.
Exit 77 (skipped) without torch, torchvision or PIL."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import numpy as np
    import torch
    from PIL import Image
    from torchvision import datasets, transforms
except ImportError as ex:
    print("test_imagefolder_py: SKIP:", ex)
    sys.exit(77)

import safetensors_io  # noqa: E402

BUILD = os.environ.get("top_builddir", os.path.join(HERE, "..", ".."))
TOOL = os.path.join(BUILD, "tests", "data", "data_tool")
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("check failed:", what, file=sys.stderr)


def make_tree(root, w, h):
    rng = np.random.default_rng(5)

    def rgb():
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)

    def save(rel, img, **kw):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        img.save(p, **kw)

    save("crab/b.png", Image.fromarray(rgb()))
    save("crab/A.PNG", Image.fromarray(rgb()).convert("L"))
    save("crab/sub/c.png", Image.fromarray(rgb()).convert("LA"))
    save("crab/sub b/d.png", Image.fromarray(np.dstack([rgb(), rgb()[:, :, :1]])))      # RGBA
    save("crab/e.bmp", Image.fromarray(rgb()))
    save("crab/f.ppm", Image.fromarray(rgb()))
    save("crab/g.pgm", Image.fromarray(rgb()).convert("L"))
    save("crab/notes.txt.png.txt", Image.fromarray(rgb()), format="PNG")               # not an image name
    pal = Image.fromarray(rgb()).convert("P", palette=Image.ADAPTIVE, colors=16)
    save("sea star/p.png", pal)
    pal_t = pal.copy()
    pal_t.info["transparency"] = 3
    save("sea star/pt.png", pal_t, transparency=3)
    save("sea star/q.jpg", Image.fromarray(rgb()), quality=95)
    save("sea star/deep/er/r.Jpeg", Image.fromarray(rgb()).convert("L"), quality=90)
    save("Sponge/s.png", Image.fromarray(rgb()))


def run(root, channels, w, h, d):
    out = os.path.join(d, f"c{channels}.safetensors")
    r = subprocess.run([TOOL, "load", root, str(channels), str(h), str(w), out], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"data_tool load failed: {r.stderr}")
    t = safetensors_io.load_file(out)
    meta = safetensors_io.load_metadata(out)
    mode = "RGB" if channels == 3 else "L"
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean=[0.5] * channels, std=[0.5] * channels)])
    ds = datasets.ImageFolder(root, transform=tf, loader=lambda p: Image.open(p).convert(mode))
    check(meta["classes"].split("\n") == ds.classes, f"classes {meta['classes']!r} vs {ds.classes}")
    paths = meta["paths"].split("\n")
    check(paths == [p for p, _ in ds.samples], f"samples:\n{paths}\nvs\n{[p for p, _ in ds.samples]}")
    check(t["y"].tolist() == ds.targets, f"targets {t['y'].tolist()} vs {ds.targets}")
    for i, (p, _) in enumerate(ds.samples):
        want = ds[i][0]
        got = t["x"][i]
        if p.lower().endswith((".jpg", ".jpeg")):
            diff = (got - want).abs().max().item()
            check(diff <= 3 * 2 / 255 + 1e-6, f"{p} ({mode}): JPEG differs by {diff * 255 / 2:.1f} levels")
        else:
            check(torch.equal(got, want), f"{p} ({mode}): differs, max {(got - want).abs().max().item()}")


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"test_imagefolder_py: {TOOL} not built", file=sys.stderr)
        return 99
    with tempfile.TemporaryDirectory(prefix="cnnc_ifpy_") as d:
        root = os.path.join(d, "train")
        make_tree(root, 13, 9)
        run(root, 3, 13, 9, d)
        run(root, 1, 13, 9, d)
    print(f"test_imagefolder_py: {checks} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
