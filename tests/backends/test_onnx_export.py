#!/usr/bin/env python3
"""tests/backends/test_onnx_export.py: --export-onnx on every shipped model (models/*.cnn,
with the fresh weights parity_dump --init writes) and on tests/backends/onnx_ops.cnn (the
layers the shipped models lack). Each export must pass onnx.checker.check_model (full_check),
name its initializers by the model file's state_dict keys with the same values, take
"input" [batch, C, H, W] with a dynamic batch, give "probs", hold the class names; and
OpenCV's DNN module, fed the tensor cnnc's eval transform makes of each image, must give
cnnc's --predict probabilities within 1e-4, at batch 1 and at batch 3. A second export
replaces the first and leaves no temporary file.
Skips (77) without numpy, onnx or cv2, or when cnnc was built without ONNX export."""
import glob
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

try:
    import cv2
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as exc:
    print(f"SKIP: {exc}")
    sys.exit(77)

SRC = os.environ.get("top_srcdir", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("top_builddir", SRC)
CNNC = os.environ.get("CNNC", os.path.join(BUILD, "cnnc"))
TOL = 1e-4
failures = []


def run(*args):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True)


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


def safetensors_tensors(path):
    """the model file's float32 tensors by name"""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, t in header.items():
        if name != "__metadata__" and t["dtype"] == "F32":
            a, b = t["data_offsets"]
            out[name] = np.frombuffer(body[a:b], dtype="<f4").reshape(t["shape"])
    return out


def write_images(tmp, c, h, w, rng):
    paths = []
    for i in range(3):
        img = rng.integers(0, 256, size=(h, w) if c == 1 else (h, w, 3), dtype=np.uint8)
        paths.append(os.path.join(tmp, f"img{i}.png"))
        assert cv2.imwrite(paths[-1], img)
    return paths


def predicted(stdout, k):
    """--predict's probabilities, one row per image (printed to 4 decimals)"""
    rows = []
    for line in stdout.splitlines():
        probs = re.findall(r" (-?[0-9]+\.[0-9]{4})(?:,|\)$)", line)
        rows.append([float(p) for p in probs])
        check(len(probs) == k, f"--predict printed {len(probs)} probabilities, not {k}: {line[:120]}")
    return np.array(rows, dtype=np.float64)


def export_and_compare(cnn, weights, tmp, rng, classes=None):
    name = os.path.basename(cnn)
    out = os.path.join(tmp, name + ".onnx")
    # twice: the second replaces the first (an existing ONNX model may be replaced)
    for _ in range(2):
        r = run(CNNC, cnn, "--export-onnx", out, "--weights", weights)
        if not check(r.returncode == 0, f"{name}: --export-onnx failed: {r.stderr.strip()}"):
            return
    check(not glob.glob(out + ".tmp*"), f"{name}: the atomic write left a temporary file")
    model = onnx.load(out)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:        # onnx.checker.ValidationError, shape inference errors
        check(False, f"{name}: onnx.checker rejects the export: {exc}")
        return
    check(model.producer_name == "cnnc", f"{name}: producer_name {model.producer_name!r}")
    check([(o.domain, o.version) for o in model.opset_import] == [("", 13)], f"{name}: opset {model.opset_import}")

    # initializers: the state_dict's float tensors (not num_batches_tracked), same values;
    # the export's own constants have names with a '/', never a state_dict key's
    tensors = safetensors_tensors(weights)
    keys = {k for k in tensors if not k.endswith("num_batches_tracked")}
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    named = {k for k in inits if "/" not in k}
    check(named == keys, f"{name}: initializers {sorted(named ^ keys)[:6]} differ from the state_dict keys")
    for k in named & keys:
        check(np.array_equal(inits[k], tensors[k]), f"{name}: initializer {k} differs from the model file")

    # input [batch, C, H, W] with batch dynamic; output probs [batch, K]
    (inp,), (outp,) = model.graph.input, model.graph.output
    dims = inp.type.tensor_type.shape.dim
    check(inp.name == "input" and dims[0].dim_param == "batch" and len(dims) == 4,
          f"{name}: input {inp.name} {dims}")
    c, h, w = (d.dim_value for d in dims[1:])
    odims = outp.type.tensor_type.shape.dim
    check(outp.name == "probs" and odims[0].dim_param == "batch", f"{name}: output {outp.name} {odims}")
    k = odims[1].dim_value
    meta = {p.key: p.value for p in model.metadata_props}
    if classes is not None:
        check(json.loads(meta.get("class_names", "null")) == classes,
              f"{name}: metadata class_names {meta.get('class_names')!r}, expected {classes}")

    # what --predict computes (onnx_ref: full precision, and the tensor it fed), then OpenCV
    images = write_images(tmp, c, h, w, rng)
    ref_path = os.path.join(tmp, name + ".f32")
    r = run(os.path.join(BUILD, "tests", "backends", "onnx_ref"), cnn, weights, ref_path, *images)
    if not check(r.returncode == 0, f"{name}: onnx_ref failed: {r.stderr.strip()}"):
        return
    ref = np.fromfile(ref_path, dtype=np.float32).reshape(len(images), c * h * w + k)
    x, probs = ref[:, :c * h * w].reshape(-1, c, h, w), ref[:, c * h * w:]
    r = run(CNNC, cnn, "--predict", *images, "--weights", weights)
    check(r.returncode == 0, f"{name}: --predict failed: {r.stderr.strip()}")
    printed = predicted(r.stdout, k)
    check(printed.shape == probs.shape and np.abs(printed - probs).max() <= 5e-5 + 1e-6,
          f"{name}: onnx_ref's probabilities are not those --predict prints")
    net = cv2.dnn.readNetFromONNX(out)
    worst = 0.0
    for i in range(len(images)):
        net.setInput(x[i:i + 1])
        worst = max(worst, float(np.abs(net.forward() - probs[i:i + 1]).max()))
    net.setInput(x)
    got3 = net.forward()
    check(got3.shape == probs.shape, f"{name}: OpenCV at batch 3 gave shape {got3.shape}")
    worst3 = float(np.abs(got3 - probs).max()) if got3.shape == probs.shape else float("inf")
    check(worst <= TOL and worst3 <= TOL,
          f"{name}: OpenCV's probabilities differ from cnnc's by {worst:.2e} (batch 1), {worst3:.2e} (batch 3)")
    print(f"{name}: {len(model.graph.node)} nodes, {len(named)} state_dict initializers, "
          f"OpenCV vs cnnc max |diff| {max(worst, worst3):.2e}")


def main():
    rng = np.random.default_rng(15)
    with tempfile.TemporaryDirectory() as tmp:
        models = sorted(glob.glob(os.path.join(SRC, "models", "*.cnn")))
        models.append(os.path.join(SRC, "tests", "backends", "onnx_ops.cnn"))
        dump = os.path.join(BUILD, "tests", "parity", "parity_dump")
        for i, cnn in enumerate(models):
            weights = os.path.join(tmp, f"w{i}.safetensors")
            r = run(dump, "--init", cnn, weights)
            if not check(r.returncode == 0, f"{cnn}: parity_dump --init failed: {r.stderr.strip()}"):
                continue
            if i == 0:
                probe = run(CNNC, cnn, "--export-onnx", os.path.join(tmp, "probe.onnx"), "--weights", weights)
                if "built without ONNX export" in probe.stderr:
                    print("SKIP: this cnnc was built without ONNX export")
                    return 77
            text = open(cnn).read()
            m = re.search(r"^classes = (\[.*\])$", text, re.M)
            export_and_compare(cnn, weights, tmp, rng, json.loads(m.group(1)) if m else None)
    print(f"test_onnx_export: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
