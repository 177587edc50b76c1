"""tests/data/safetensors_io.py: safetensors files in pure Python (json + struct + numpy/torch).

PyTorch 1.13 cannot read safetensors itself and Debian has no python3-safetensors, so the
parity tests use this module. Its functions mirror safetensors.torch's:

    load_file(path) -> {name: torch.Tensor}     save_file({name: tensor}, path, metadata=None)
    load_numpy(path) -> {name: numpy.ndarray}   load_metadata(path) -> {str: str}

Format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
(offsets relative to the data that follows), then the data. Reading checks what the
reference implementation checks: contiguous offsets that cover the data, sizes that match.
"""
import json
import struct

import numpy as np

MAX_HEADER = 100_000_000

# dtype name -> (numpy dtype or None, element size, torch dtype name)
DTYPES = {
    "F64": ("<f8", 8, "float64"), "F32": ("<f4", 4, "float32"), "F16": ("<f2", 2, "float16"),
    "BF16": (None, 2, "bfloat16"),
    "I64": ("<i8", 8, "int64"), "I32": ("<i4", 4, "int32"), "I16": ("<i2", 2, "int16"), "I8": ("i1", 1, "int8"),
    "U8": ("u1", 1, "uint8"), "BOOL": ("?", 1, "bool"),
}


class SafetensorsError(ValueError):
    pass


def _read(path):
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise SafetensorsError(f"{path}: file too short")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8 or n > MAX_HEADER:
        raise SafetensorsError(f"{path}: header length {n} out of range")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not an object")
    meta = header.pop("__metadata__", None) or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise SafetensorsError(f"{path}: metadata values must be strings")
    data = memoryview(buf)[8 + n:]
    at = 0
    for name, info in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        begin, end = info["data_offsets"]
        if info["dtype"] not in DTYPES:
            raise SafetensorsError(f"{path}: {name}: unknown dtype {info['dtype']}")
        numel = 1
        for d in info["shape"]:
            numel *= d
        if begin != at or end < begin or end - begin != numel * DTYPES[info["dtype"]][1]:
            raise SafetensorsError(f"{path}: {name}: bad data_offsets {info['data_offsets']}")
        at = end
    if at != len(data):
        raise SafetensorsError(f"{path}: data not covered by the tensors")
    return header, meta, data


def load_metadata(path):
    return _read(path)[1]


def load_numpy(path):
    """{name: numpy array} in header order (BF16 is returned as raw uint16)."""
    header, _, data = _read(path)
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        np_dtype = DTYPES[info["dtype"]][0] or "<u2"
        out[name] = np.frombuffer(bytes(data[begin:end]), dtype=np_dtype).reshape(info["shape"]).copy()
    return out


def load_file(path, device="cpu"):
    """{name: torch.Tensor}, as safetensors.torch.load_file."""
    import torch

    header, _, data = _read(path)
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dt = getattr(torch, DTYPES[info["dtype"]][2])
        raw = bytearray(data[begin:end])
        t = torch.frombuffer(raw, dtype=dt) if raw else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).clone().to(device)
    return out


def _as_bytes(t):
    """dtype name, shape and little-endian bytes of a torch tensor or numpy array."""
    if hasattr(t, "detach"):
        import torch

        t = t.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            return "BF16", list(t.shape), t.view(torch.int16).numpy().astype("<i2").tobytes()
        t = t.numpy()
    a = np.asarray(t)           # np.ascontiguousarray would make a 0-dim tensor 1-dim
    if not a.flags.c_contiguous:
        a = a.copy(order="C")
    for name, (np_dtype, _, _) in DTYPES.items():
        if np_dtype and a.dtype == np.dtype(np_dtype).newbyteorder("="):
            return name, list(a.shape), a.astype(np_dtype).tobytes()
    raise SafetensorsError(f"unsupported dtype {a.dtype}")


def save_file(tensors, path, metadata=None):
    """Writes {name: tensor} (torch or numpy) in the given order, as safetensors.torch.save_file."""
    header, blobs, at = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        dtype, shape, b = _as_bytes(t)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
