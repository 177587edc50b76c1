"""tests/data/test_transforms_py.py: each PIL operation behind cnnc's transforms, with its
random parameters pinned, against torchvision 0.14's functional op on the same PIL image
(tests/data/tf_tool runs cnnc's). Geometry (flips, crops, pads, rotations) must agree pixel
for pixel; resampling and colour (Resize, perspective, ColorJitter's four, Grayscale) within
1 grey level, the tolerance the issue states. RGB and L images, odd and even sizes.
Then the random parameters: 4000 draws of cnnc's get_params against 4000 of torchvision's
(RandomResizedCrop, RandomPerspective, RandomRotation, ColorJitter with its order,
RandomCrop), each coordinate compared by a two-sample Kolmogorov-Smirnov test at
alpha = 1e-4 (D <= 2.23 * sqrt(2 / 4000) = 0.050); the draws are seeded, so the test is
deterministic.
Exit 77 (skipped) without torch, torchvision or PIL."""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch  # noqa: F401
    from PIL import Image
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F
except ImportError as ex:
    print("test_transforms_py: SKIP:", ex)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("top_builddir", os.path.join(HERE, "..", ".."))
TOOL = os.path.join(BUILD, "tests", "data", "tf_tool")
failures = 0
checks = 0


def cnnc(path, channels, op, *args):
    out = path + ".out.png"
    r = subprocess.run([TOOL, path, str(channels), out, op] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"tf_tool {op} {args} failed: {r.stderr}")
    return np.asarray(Image.open(out)).astype(np.int32)


def compare(name, ours, theirs, tol):
    global failures, checks
    checks += 1
    theirs = np.asarray(theirs).astype(np.int32)
    if ours.shape != theirs.shape:
        failures += 1
        print(f"FAIL {name}: shape {ours.shape} vs torchvision {theirs.shape}", file=sys.stderr)
        return
    d = np.abs(ours - theirs)
    if d.max() > tol:
        failures += 1
        print(f"FAIL {name}: max difference {d.max()} > {tol} at {np.argwhere(d == d.max())[0]}, "
              f"{(d > tol).sum()} of {d.size} values", file=sys.stderr)


def compare_value(name, value, bound):
    global failures, checks
    checks += 1
    if not value <= bound:
        failures += 1
        print(f"FAIL {name}: {value} > {bound}", file=sys.stderr)


def run(img, tag, d):
    mode = img.mode
    ch = 3 if mode == "RGB" else 1
    path = os.path.join(d, f"{tag}.png")
    img.save(path)
    w, h = img.size
    compare(f"{tag} hflip", cnnc(path, ch, "hflip"), F.hflip(img), 0)
    compare(f"{tag} vflip", cnnc(path, ch, "vflip"), F.vflip(img), 0)
    for (rw, rh) in [(w // 2, h // 3), (w * 2 + 1, h + 3), (17, 40), (w, h - 5), (w + 7, h)]:
        compare(f"{tag} resize {rw}x{rh}", cnnc(path, ch, "resize", rw, rh), F.resize(img, [rh, rw]), 1)
    compare(f"{tag} crop", cnnc(path, ch, "crop", 3, 5, 10, 12), F.crop(img, 3, 5, 10, 12), 0)
    for (ch_, cw_) in [(10, 12), (h - 1, w - 2), (h + 3, w + 4), (h, w + 1)]:
        compare(f"{tag} centercrop {ch_}x{cw_}", cnnc(path, ch, "centercrop", ch_, cw_), F.center_crop(img, [ch_, cw_]), 0)
    for m, name in enumerate(["constant", "edge", "reflect", "symmetric"]):
        compare(f"{tag} pad {name}", cnnc(path, ch, "pad", 3, 1, 2, 4, m),
                F.pad(img, [3, 1, 2, 4], fill=7, padding_mode=name), 0)
    for angle in [15.0, -7.3, 33.33, 180.0, 90.0, 271.5, -12.0, 0.0]:
        fill = 9
        compare(f"{tag} rotate {angle}", cnnc(path, ch, "rotate", angle, fill),
                F.rotate(img, angle, InterpolationMode.NEAREST, fill=fill), 0)
    compare(f"{tag} rotate about (3, 4)", cnnc(path, ch, "rotate", 12.5, 0, 3, 4),
            F.rotate(img, 12.5, InterpolationMode.NEAREST, center=[3, 4], fill=0), 0)
    start = [[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]
    for end in ([[3, 2], [w - 2, 4], [w - 5, h - 1], [1, h - 3]], [[0, 0], [w - 1, 0], [w - 3, h - 2], [2, h - 1]],
                [[5, 5], [w - 6, 1], [w - 1, h - 6], [0, h - 2]]):
        flat = [v for p in end for v in p]
        # the warp, given torchvision's coefficients: within 1 grey level everywhere
        theirs = F._get_perspective_coeffs(start, end)
        for interp, bil in ((InterpolationMode.BILINEAR, 1), (InterpolationMode.NEAREST, 0)):
            compare(f"{tag} perspective warp {interp.value} {end}", cnnc(path, ch, "warp", bil, 4, *theirs),
                    F.perspective(img, start, end, interp, fill=4), 1)
        # the coefficients: torchvision solves the 8x8 system in float32 with LAPACK's QR;
        # cnnc solves it exactly and rounds to float32. Every pixel centre must map to the
        # same source point within 0.01 pixel
        r = subprocess.run([TOOL, path, str(ch), path + ".x", "coeffs"] + [str(v) for v in flat],
                           capture_output=True, text=True)
        ours = [float(x) for x in r.stdout.split()]
        ys, xs = np.mgrid[0:h, 0:w] + 0.5

        def warp(c):
            den = c[6] * xs + c[7] * ys + 1
            return (c[0] * xs + c[1] * ys + c[2]) / den, (c[3] * xs + c[4] * ys + c[5]) / den
        (ax, ay), (bx, by) = warp(ours), warp(theirs)
        compare_value(f"{tag} perspective coefficients {end}: source point distance",
                      max(np.abs(ax - bx).max(), np.abs(ay - by).max()), 0.01)
        # end to end: the float32 rounding of either side decides pixels whose source lies
        # exactly on the image border; at most 1% of the values may differ there
        frac = np.mean(np.abs(cnnc(path, ch, "perspective", 1, 4, *flat).astype(np.int32)
                              - np.asarray(F.perspective(img, start, end, InterpolationMode.BILINEAR, fill=4),
                                           dtype=np.int32)) > 1)
        compare_value(f"{tag} perspective end to end {end}: fraction of values off by more than 1", frac, 0.01)
    for f in [0.7, 1.0, 1.3, 0.0, 2.5]:
        compare(f"{tag} brightness {f}", cnnc(path, ch, "brightness", f), F.adjust_brightness(img, f), 1)
        compare(f"{tag} contrast {f}", cnnc(path, ch, "contrast", f), F.adjust_contrast(img, f), 1)
        compare(f"{tag} saturation {f}", cnnc(path, ch, "saturation", f), F.adjust_saturation(img, f), 1)
    for f in [0.05, -0.05, 0.2, -0.5, 0.5, 0.0]:
        compare(f"{tag} hue {f}", cnnc(path, ch, "hue", f), F.adjust_hue(img, f), 1)
    for n in [1, 3]:
        compare(f"{tag} grayscale {n}", cnnc(path, ch, "gray", n), F.rgb_to_grayscale(img, n), 0)


def ks(a, b):
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    v = np.concatenate([a, b])
    return np.max(np.abs(np.searchsorted(a, v, side="right") / len(a) - np.searchsorted(b, v, side="right") / len(b)))


def ours(kind, n, h, w):
    r = subprocess.run([TOOL, "params", kind, str(n), str(h), str(w)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"tf_tool params {kind} failed: {r.stderr}")
    return [line.split() for line in r.stdout.splitlines()]


def distributions():
    import torchvision.transforms as T
    n, h, w = 4000, 80, 100
    bound = 2.23 * np.sqrt(2.0 / n)
    torch.manual_seed(0)
    img = Image.new("RGB", (w, h))
    for kind, scale in (("rrc", (0.08, 1.0)), ("rrc50", (0.5, 1.0))):
        a = np.array(ours(kind, n, h, w), int)
        b = np.array([T.RandomResizedCrop.get_params(img, list(scale), [3 / 4, 4 / 3]) for _ in range(n)], int)
        for k, name in enumerate(["top", "left", "height", "width"]):
            compare_value(f"RandomResizedCrop scale={scale} {name}: KS distance", ks(a[:, k], b[:, k]), bound)
        compare_value(f"RandomResizedCrop scale={scale}: area fraction in range",
                      np.mean((a[:, 2] * a[:, 3] / (h * w) < scale[0] * 0.9) | (a[:, 2] * a[:, 3] > h * w)), 0)
    a = np.array(ours("persp", n, h, w), int)
    b = np.array([[v for p in T.RandomPerspective.get_params(w, h, 0.4)[1] for v in p] for _ in range(n)], int)
    for k in range(8):
        compare_value(f"RandomPerspective corner {k // 2} {'xy'[k % 2]}: KS distance", ks(a[:, k], b[:, k]), bound)
        compare_value(f"RandomPerspective corner {k // 2} {'xy'[k % 2]}: same range",
                      abs(a[:, k].min() - b[:, k].min()) + abs(a[:, k].max() - b[:, k].max()), 0)
    a = np.array(ours("rotation", n, h, w), float)[:, 0]
    b = np.array([T.RandomRotation.get_params([-15.0, 15.0]) for _ in range(n)])
    compare_value("RandomRotation angle: KS distance", ks(a, b), bound)
    compare_value("RandomRotation angle within [-15, 15]", np.sum(np.abs(a) > 15), 0)
    rows = ours("jitter", n, h, w)
    a = np.array([[float(x) for x in r[:4]] for r in rows])
    perm_a = [int(r[4]) for r in rows]
    draws = [T.ColorJitter.get_params([0.7, 1.3], [0.7, 1.3], [0.7, 1.3], [-0.05, 0.05]) for _ in range(n)]
    b = np.array([[d[1], d[2], d[3], d[4]] for d in draws])
    perm_b = [int("".join(str(int(x)) for x in d[0])) for d in draws]
    for k, name in enumerate(["brightness", "contrast", "saturation", "hue"]):
        compare_value(f"ColorJitter {name} factor: KS distance", ks(a[:, k], b[:, k]), bound)
    # the order: a random permutation of the four, each of the 24 equally likely
    counts_a = np.unique(perm_a, return_counts=True)
    counts_b = np.unique(perm_b, return_counts=True)
    compare_value("ColorJitter orders: all 24 permutations drawn", 24 - len(counts_a[0]), 0)
    compare_value("ColorJitter orders: KS distance of the permutation index", ks(perm_a, perm_b), bound)
    compare_value("ColorJitter orders: each within 5 sigma of 1/24",
                  np.max(np.abs(counts_a[1] / n - 1 / 24)) / np.sqrt((1 / 24) * (23 / 24) / n), 5)
    a = np.array(ours("crop", n, h, w), int)
    b = np.array([T.RandomCrop.get_params(img, (h // 2, w // 3))[:2] for _ in range(n)], int)
    for k, name in enumerate(["top", "left"]):
        compare_value(f"RandomCrop {name}: KS distance", ks(a[:, k], b[:, k]), bound)


def main():
    distributions()
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory(prefix="cnnc_tfpy_") as d:
        for (w, h) in [(37, 29), (32, 32), (24, 41)]:
            arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            # smooth regions too, where rounding differences would show
            arr[: h // 2, : w // 2] = (np.arange(w // 2)[None, :, None] * 7 + np.arange(h // 2)[:, None, None] * 3) % 256
            img = Image.fromarray(arr, "RGB")
            run(img, f"rgb{w}x{h}", d)
            run(img.convert("L"), f"l{w}x{h}", d)
    print(f"test_transforms_py: {checks - failures}/{checks} comparisons agree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
