"""tests/data/test_safetensors_py.py: safetensors files written by cnnc read in Python with
torch, and files written from Python read by cnnc (through tests/data/data_tool). The
notebook's model loads a cnnc-written state_dict with load_state_dict(strict=True).
Exit 77 (skipped) when this Python has no torch."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import torch
except ImportError:
    print("test_safetensors_py: SKIP: no torch in", sys.executable)
    sys.exit(77)

import safetensors_io  # noqa: E402

sys.path.insert(0, os.path.join(HERE, ".."))
from notebook_model import ClassificationCNN  # noqa: E402

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


def tool(*args):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"data_tool {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def test_cnnc_to_python(d):
    path = os.path.join(d, "from_cnnc.safetensors")
    tool("st-write", path)
    t = safetensors_io.load_file(path)
    check(list(t) == ["conv_layers.0.weight", "ints", "longs", "bytes", "scalar", "empty"], f"names {list(t)}")
    w = (torch.arange(24, dtype=torch.float32) * 0.5 - 3.0).reshape(2, 3, 4)
    w.view(-1)[1] = 1.0 / 3.0
    check(torch.equal(t["conv_layers.0.weight"], w), "F32 data")
    check(t["ints"].dtype == torch.int32 and t["ints"].tolist() == [-7, 0, 2147483647], "I32")
    check(t["longs"].dtype == torch.int64 and t["longs"].tolist() == [-2**63, 1234567890123], "I64")
    check(t["bytes"].dtype == torch.uint8 and t["bytes"].shape == (1, 5) and t["bytes"].tolist() == [[0, 1, 127, 128, 255]], "U8")
    check(t["scalar"].shape == () and t["scalar"].item() == 3.5, "scalar")
    check(t["empty"].shape == (0, 4), "empty")
    m = safetensors_io.load_metadata(path)
    check(m == {"classes": '["sea sponge", "sea star"]',
                "source": 'model A {\n\tinput [3, 100, 100] # "quoted" \\ back\\slash\n}\n',
                "unicode": "caf\u00e9 \u20ac \U0001f980"}, f"metadata {m!r}")
    # the raw header: padded to 8 with spaces, strict JSON
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    check(n % 8 == 0 and raw[8:9] == b"{", "header padding")
    json.loads(raw[8:8 + n].decode("utf-8"))


def test_python_to_cnnc(d):
    path = os.path.join(d, "from_python.safetensors")
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)
    tensors = {
        "a.weight": base[:, ::2],                      # not contiguous
        "counts": torch.tensor([1, -2, 3], dtype=torch.int64),
        "i32": torch.tensor([[5, 6]], dtype=torch.int32),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
    }
    meta = {"note": "line1\nline2 \"q\" \u00fc\U0001f41a", "empty": ""}
    safetensors_io.save_file(tensors, path, metadata=meta)
    dump = json.loads(tool("st-dump", path))
    names = [e["name"] for e in dump["tensors"]]
    check(names == list(tensors), f"cnnc sees {names}")
    for e in dump["tensors"]:
        src = tensors[e["name"]].contiguous()
        check(e["shape"] == list(src.shape), f"{e['name']} shape {e['shape']}")
        check(bytes.fromhex(e["hex"]) == src.numpy().tobytes(), f"{e['name']} data")
    check(dump["metadata"] == meta, f"metadata {dump['metadata']!r}")
    # and cnnc refuses what it cannot represent, with the dtype named
    bad = os.path.join(d, "f16.safetensors")
    safetensors_io.save_file({"h": torch.zeros(2, dtype=torch.float16)}, bad)
    r = subprocess.run([TOOL, "st-dump", bad], capture_output=True, text=True)
    check(r.returncode == 1 and "dtype F16, which cnnc does not support" in r.stderr, f"F16: {r.stderr}")


def test_state_dict(d):
    torch.manual_seed(1)
    model = ClassificationCNN()
    sd = model.state_dict()
    src = os.path.join(d, "torch_model.safetensors")
    out = os.path.join(d, "cnnc_model.safetensors")
    safetensors_io.save_file(sd, src, metadata={"classes": "sea sponge,sea star,crab,plankton,squid"})
    tool("st-copy", src, out)                          # read and written again by cnnc
    loaded = safetensors_io.load_file(out)
    fresh = ClassificationCNN()
    fresh.load_state_dict(loaded, strict=True)
    for k, v in fresh.state_dict().items():
        check(torch.equal(v, sd[k]), f"{k} differs after the round trip")
    check(safetensors_io.load_metadata(out)["classes"].split(",")[2] == "crab", "metadata kept")
    check(list(loaded) == list(sd), "state_dict order kept")


def main():
    if not os.access(TOOL, os.X_OK):
        print(f"test_safetensors_py: {TOOL} not built", file=sys.stderr)
        return 99
    with tempfile.TemporaryDirectory(prefix="cnnc_stpy_") as d:
        test_cnnc_to_python(d)
        test_python_to_cnnc(d)
        test_state_dict(d)
    print(f"test_safetensors_py: {checks} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
