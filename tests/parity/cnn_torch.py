"""tests/parity/cnn_torch.py: a model block of a .cnn file read as the PyTorch it stands for.

The zoo's .cnn files (models/) are written in PyTorch's words; this module runs their model
blocks through Python itself, so test_zoo_torch.py can hold each file to the nn.Module it
claims to be (torchvision's resnet18 and mobilenet_v2, bench/torch_models.py's classes)
without cnnc: same state_dict keys and shapes, same outputs. It is no second front end:
it reads only the subset the zoo's files use (model blocks with arguments, attribute
assignments in Python syntax, `input [C, H, W]`, a forward block whose lines are Python,
`model NAME(params) = expression`),
and it trusts Python to reject what it does not understand.

    build(path) -> (nn.Module of the entry model, its input shape)"""
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

LAYERS = {name: getattr(nn, name) for name in (
    "Conv2d", "BatchNorm2d", "BatchNorm1d", "ReLU", "ReLU6", "Tanh", "Sigmoid", "LeakyReLU", "ELU",
    "GELU", "SiLU", "Hardswish", "Hardsigmoid", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d", "Linear", "Flatten", "Dropout", "Dropout2d", "Identity", "Sequential",
    "Softmax", "LogSoftmax")}


def _block(text, open_at):
    """the text between the brace at open_at and its match, and the index after the match"""
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i], i + 1
    raise SyntaxError("unbalanced braces")


def _strip_comments(text):
    """# comments gone (the zoo's strings hold no '#')"""
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def _dedent(lines):
    lines = [ln for ln in lines.splitlines() if ln.strip()]
    pad = min(len(ln) - len(ln.lstrip()) for ln in lines)
    return "\n".join(ln[pad:] for ln in lines)


def _module_class(name, params, body, env):
    """an nn.Module class for `model name(params) { body }`"""
    forward_src, shape = None, None
    m = re.search(r"\bforward\s*\(\s*(\w+)\s*\)\s*{", body)
    if m:
        inner, end = _block(body, m.end() - 1)
        forward_src = (m.group(1), _dedent(inner))
        body = body[:m.start()] + body[end:]
    m = re.search(r"^\s*input\s*=?\s*(\[[^\]]*\]|\([^)]*\))", body, re.M)
    if m:
        shape = tuple(eval(m.group(1), {}))
        body = body[:m.start()] + body[m.end():]
    init_src = _dedent(body)
    arg_names = [p.split("=")[0].strip() for p in params.split(",") if p.strip()]

    def __init__(self, *args, **kwargs):
        nn.Module.__init__(self)
        ns = dict(env)
        exec(f"def _args({params}): return locals()", ns)
        local = ns.pop("_args")(*args, **kwargs)
        ns.update(local)
        before = set(ns)
        exec(init_src, ns)
        self._ns = {k: ns[k] for k in arg_names + [k for k in ns if k not in before]}
        order = re.findall(r"^(\w+)\s*=", init_src, re.M)
        for attr in dict.fromkeys(order):
            value = ns[attr]
            if isinstance(value, nn.Module) or value is None:
                setattr(self, attr, value)
        self._order = [a for a in dict.fromkeys(order) if isinstance(ns[a], nn.Module)]

    def forward(self, x):
        if forward_src is None:
            for attr in self._order:
                x = getattr(self, attr)(x)
            return x
        ns = dict(env)
        ns.update(self._ns)
        arg, src = forward_src
        exec("def _forward(self, %s):\n%s" % (arg, "\n".join("    " + ln for ln in src.splitlines())), ns)
        return ns["_forward"](self, x)

    return type(name, (nn.Module,), {"__init__": __init__, "forward": forward}), shape


def build(path):
    """(the entry model of the .cnn file at path as an nn.Module, its input shape)"""
    with open(path) as f:
        text = _strip_comments(f.read())
    env = dict(LAYERS, F=F, torch=torch, nn=nn)
    entry = None
    for m in re.finditer(r"\bmodel\s+(\w+)\s*\(([^)]*)\)\s*=", text):   # a module built from its parameters
        end = text.find("\nmodel", m.end())
        expr = text[m.end():end if end >= 0 else len(text)].strip()
        exec(f"def {m.group(1)}({m.group(2)}):\n    return ({expr})", env)
    for m in re.finditer(r"\bmodel\s+(\w+)\s*(?:\(([^)]*)\))?\s*{", text):
        body, _ = _block(text, m.end() - 1)
        cls, shape = _module_class(m.group(1), m.group(2) or "", body, env)
        env[m.group(1)] = cls
        if shape is not None:
            entry = (cls, shape)
    if entry is None:
        raise SyntaxError(f"{path}: no model declares input")
    return entry[0](), entry[1]
