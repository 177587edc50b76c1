#!/usr/bin/python3
"""bench/bench.py: `make bench`. Runs cnnc and PyTorch side by side on the same models,
batch sizes, thread counts and data, alternating them round by round, and prints medians
and ratios: training and inference images/s on random tensors in memory (models/sea.cnn,
models/fashion.cnn's and models/fashion_resnet.cnn's training at batch 64, models/resnet18.cnn's
inference at batches 1 and 16), with the GFLOP/s they amount to (2 x the multiply-accumulates
of Conv2d and Linear per image, 3 x that for a training step) beside OpenBLAS's sgemm on
1024 x 1024 x 1024, the machine's practical peak; single-image latency, the notebook's whole
20-epoch run on the stand-in folder with peak memory, and cnnc's per-node profile against
OpenBLAS's sgemm alone. PyTorch runs as installed and in its best configuration (OpenBLAS
single-threaded, glibc keeping large blocks mapped). bench_cnnc runs with
OMP_WAIT_POLICY=PASSIVE unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, as the cnnc
program sets for itself (compiler/driver/main.c), so it measures what cnnc does.
Without torch for /usr/bin/python3 only cnnc's figures are printed; a model cnnc cannot
compile yet gets "-" in its column and a note, and the other rows still run.
Then the deployment table: single-image latency and batch-16 throughput of sea.cnn,
fashion_resnet.cnn and resnet18.cnn (fresh weights) in the code --emit-c writes, float and int8
(bench/emit_c.sh build, gcc -O3 -march=native), cnnc's runtime, OpenCV's DNN module running
`cnnc --export-onnx`'s model (bench_opencv.py; skipped without python3-opencv, python3-onnx or
a cnnc built with ONNX export) and PyTorch at its best, all on DEPLOY_THREADS threads
(default 1), with the ratios emitted float / OpenCV and int8 / float.
Environment: BENCH_ROUNDS (default 5), BENCH_QUICK=1 (fewer repeats, skip the whole run),
BENCH_ONLY=deploy (the deployment table alone) or BENCH_ONLY=MODEL[,MODEL...] (only those
models' rows of the first table, e.g. fashion_resnet,resnet18; the whole run needs sea, and
the profile is of the first row's model in its mode and batch)."""
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("top_srcdir", os.path.dirname(HERE))
BUILD = os.environ.get("top_builddir", SRC)
PY = "/usr/bin/python3"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
QUICK = os.environ.get("BENCH_QUICK") == "1"
ONLY = [m for m in os.environ.get("BENCH_ONLY", "").split(",") if m]
THREADS = os.cpu_count() or 1
BEST = {"OPENBLAS_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "33554432",
        "MALLOC_TRIM_THRESHOLD_": "4294967295"}
# what the cnnc program does for itself: OpenMP threads wait without spinning, unless the user chose
CNNC_ENV = {} if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ else {
    "OMP_WAIT_POLICY": "PASSIVE"}


def run(cmd, extra_env=None, may_fail=False):
    """(stdout, wall seconds, peak RSS MiB) of one process; None if it fails and may_fail"""
    env = dict(os.environ)
    env.update(extra_env or {})
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
                         cwd=HERE)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        if may_fail:
            return None
        sys.exit(f"bench: {' '.join(cmd)} failed (status {status})")
    return out, wall, ru.ru_maxrss / 1024.0


def ips(out):
    return float(out.split()[2])


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    have_torch = subprocess.run([PY, "-c", "import torch"], stderr=subprocess.DEVNULL).returncode == 0
    torch_version = subprocess.run([PY, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                                   text=True).stdout.strip() if have_torch else "absent"
    bench_cnnc = os.path.join(BUILD, "bench", "bench_cnnc")
    sea = os.path.join(SRC, "models", "sea.cnn")
    print(f"cnnc benchmark, {datetime.date.today()}: {cpu_name()}, {THREADS} threads, "
          f"PyTorch {torch_version}; command: make bench (bench/bench.py), {ROUNDS} rounds, medians")
    if not have_torch:
        print("note: /usr/bin/python3 has no torch (apt-get install python3-torch): PyTorch columns skipped")
    cases = [  # label, model (models/MODEL.cnn, torch_models.MODELS[MODEL]), mode, batch, repeats, unit
        ("training, sea.cnn, batch 10", "sea", "train", 10, 10 if QUICK else 30, "images/s"),
        ("training, sea.cnn, batch 64", "sea", "train", 64, 4 if QUICK else 10, "images/s"),
        ("training, fashion.cnn, batch 64", "fashion", "train", 64, 10 if QUICK else 30, "images/s"),
        ("inference, sea.cnn, batch 64", "sea", "infer", 64, 5 if QUICK else 20, "images/s"),
        ("single-image latency, sea.cnn", "sea", "infer", 1, 20 if QUICK else 100, "ms"),
        ("training, fashion_resnet.cnn, batch 64", "fashion_resnet", "train", 64, 5 if QUICK else 15, "images/s"),
        ("inference, resnet18.cnn, batch 1", "resnet18", "infer", 1, 3 if QUICK else 10, "images/s"),
        ("inference, resnet18.cnn, batch 16", "resnet18", "infer", 16, 2 if QUICK else 5, "images/s"),
    ]
    if ONLY:
        unknown = sorted(set(ONLY) - {c[1] for c in cases})
        if unknown:
            sys.exit(f"bench.py: BENCH_ONLY names {', '.join(unknown)}, which no row measures "
                     f"(the models: {', '.join(sorted({c[1] for c in cases}))})")
        cases = [c for c in cases if c[1] in ONLY]
    gflop_models = ("fashion_resnet", "resnet18")   # rows that also print GFLOP/s
    flops = {}
    if have_torch:
        sys.path.insert(0, HERE)
        from torch_models import macs
        flops = {m: 2.0 * macs(m) for m in gflop_models if any(c[1] == m for c in cases)}
    failed = set()
    results = {c[0]: {"cnnc": [], "torch": [], "best": []} for c in cases}
    for _ in range(ROUNDS):
        for label, model, mode, batch, reps, _ in cases:
            r = results[label]
            cnn = os.path.join(SRC, "models", model + ".cnn")
            if label not in failed:
                got = run([bench_cnnc, cnn, mode, str(batch), str(reps), str(THREADS)], CNNC_ENV, may_fail=True)
                if got is None:
                    failed.add(label)
                else:
                    r["cnnc"].append(ips(got[0]))
            if have_torch:
                cmd = [PY, "bench_torch.py", model, mode, str(batch), str(reps), str(THREADS)]
                r["torch"].append(ips(run(cmd)[0]))
                r["best"].append(ips(run(cmd, BEST)[0]))
    rows = []
    for label, model, mode, _, _, unit in cases:
        r = {k: statistics.median(v) if v else None for k, v in results[label].items()}
        if unit == "ms":   # images/s of batch 1 -> milliseconds per image
            r = {k: (1000.0 / v if v else None) for k, v in r.items()}
            ratio = {k: (r[k] / r["cnnc"] if r[k] and r["cnnc"] else None) for k in ("torch", "best")}
        else:
            ratio = {k: (r["cnnc"] / r[k] if r[k] and r["cnnc"] else None) for k in ("torch", "best")}
        rows.append((f"{label} ({unit})", r, ratio))
        if model in flops:
            per_image = flops[model] * (3 if mode == "train" else 1)
            rows.append(("  that in GFLOP/s", {k: (v * per_image / 1e9 if v else None) for k, v in r.items()}, ratio))

    if not QUICK and (not ONLY or "sea" in ONLY):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "data")
            run([os.path.join(BUILD, "examples", "make_sea_data"), data])
            whole = {"cnnc": [], "torch": [], "best": []}
            for _ in range(min(ROUNDS, 3)):
                whole["cnnc"].append(run([os.path.join(BUILD, "cnnc"), sea, "--train", "--seed", "1", "--data", data,
                                          "-o", os.path.join(tmp, "m.safetensors")])[1:])
                if have_torch:
                    whole["torch"].append(run([PY, "notebook_train.py", data])[1:])
                    whole["best"].append(run([PY, "notebook_train.py", data], BEST)[1:])
            w = {k: statistics.median(x[0] for x in v) if v else None for k, v in whole.items()}
            m = {k: max(x[1] for x in v) if v else None for k, v in whole.items()}
            rows.append(("the notebook's 20-epoch run, whole process (s)", w,
                         {k: (w[k] / w["cnnc"] if w[k] else None) for k in ("torch", "best")}))
            rows.append(("  peak resident memory of that process (MiB)", m,
                         {k: (m[k] / m["cnnc"] if m[k] else None) for k in ("torch", "best")}))

    def f(x, ratio=False):
        if x is None:
            return "-"
        return f"{x:.2f}x" if ratio else (f"{x:.1f}" if x >= 10 else f"{x:.2f}")

    print()
    print(f"| {'measurement':52} | {'cnnc':>8} | {'PyTorch':>8} | {'PyTorch best':>12} | {'vs PyTorch':>10} | {'vs best':>8} |")
    print(f"|{'-' * 54}|{'-' * 10}|{'-' * 10}|{'-' * 14}|{'-' * 12}|{'-' * 10}|")
    for label, r, ratio in rows:
        print(f"| {label:52} | {f(r['cnnc']):>8} | {f(r['torch']):>8} | {f(r['best']):>12} | "
              f"{f(ratio['torch'], True):>10} | {f(ratio['best'], True):>8} |")
    print("ratios: how many times faster (or, for memory, smaller) cnnc is")
    peak = run([bench_cnnc, "--sgemm", "1024", str(THREADS)], CNNC_ENV, may_fail=True)
    if peak:
        print(f"the machine's practical peak: OpenBLAS sgemm 1024 x 1024 x 1024 on {THREADS} threads, "
              f"{peak[0].split()[2]} GFLOP/s")
    for label in sorted(failed):
        print(f"note: bench_cnnc could not run {label} (cnnc cannot compile that model yet?)")
    prof = ("sea", "train", 10) if not ONLY or "sea" in ONLY else cases[0][1:4]
    print()
    print(f"cnnc's {'training step' if prof[1] == 'train' else 'inference'} of {prof[0]}.cnn at batch {prof[2]}, "
          "node by node (GFLOP/s against OpenBLAS's sgemm alone on the same shape):")
    sys.stdout.flush()
    out, _, _ = run([bench_cnnc, os.path.join(SRC, "models", prof[0] + ".cnn"),
                     "profile" if prof[1] == "train" else "profile-infer", str(prof[2]),
                     "10" if QUICK or prof[0] != "sea" else "30", str(THREADS)], CNNC_ENV)
    print(out, end="")



# ---- deployment: the same models in the emitted C, cnnc, OpenCV and PyTorch, one row per model and batch ----

DEPLOY_MODELS = ("sea", "fashion_resnet", "resnet18")
DEPLOY_BATCHES = (1, 16)
DEPLOY_ROUNDS = min(ROUNDS, 3)
DEPLOY_THREADS = int(os.environ.get("DEPLOY_THREADS", "1"))
# the emitted code runs resnet18 at about a second an image on a loaded 2-core machine: one
# round of 3 images and 16 for the batch
EMIT_REPS = {"sea": (30, 4), "fashion_resnet": (30, 4), "resnet18": (3, 1)}
EMIT_ROUNDS = {"resnet18": 1}


def deploy_reps(model, batch):
    if model == "resnet18":
        return 3 if batch == 1 else 1
    reps = {"sea": 50, "fashion_resnet": 30}[model] // (4 if batch > 1 else 1)
    return max(2, reps // (4 if QUICK else 1))


def deploy_onnx_exports(tmp):
    """{model: path of its ONNX export} with fresh weights (parity_dump --init), or {} with a
    note where OpenCV, onnx or the export is missing"""
    probe = subprocess.run([PY, "-c", "import cv2, onnx"], stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        print("note: /usr/bin/python3 lacks cv2 or onnx (python3-opencv, python3-onnx): OpenCV column skipped")
        return {}
    paths = {}
    for model in DEPLOY_MODELS:
        cnn = os.path.join(SRC, "models", model + ".cnn")
        weights, out = os.path.join(tmp, model + ".safetensors"), os.path.join(tmp, model + ".onnx")
        dumped = run([os.path.join(BUILD, "tests", "parity", "parity_dump"), "--init", cnn, weights], may_fail=True)
        made = dumped and run([os.path.join(BUILD, "cnnc"), cnn, "--export-onnx", out, "--weights", weights],
                              may_fail=True)
        if not made:
            print(f"note: no ONNX export of {model}.cnn (is cnnc built with ONNX export?): OpenCV skips it")
            continue
        paths[model] = out
    return paths


def deploy_ips(got, batch):
    """images/s from a run printing "infer median_seconds images/s": from the seconds, since
    the printed rate has one decimal (resnet18's 1.0 image/s would read as exactly 1000 ms)"""
    return batch / float(got[0].split()[1]) if got else None


def deploy_emit_builds(tmp):
    """{(model, "float" | "int8"): the command that times its emitted code} (bench/emit_c.sh build)"""
    builds = {}
    env = {"top_srcdir": SRC, "top_builddir": BUILD}
    for model in DEPLOY_MODELS:
        for kind in ("float", "int8"):
            got = run(["sh", os.path.join(HERE, "emit_c.sh"), "build", model, os.path.join(tmp, f"{model}-{kind}"),
                       kind], env, may_fail=True)
            if got:
                builds[(model, kind)] = got[0].split()
            else:
                print(f"note: bench/emit_c.sh build {model} {kind} failed: its column is empty")
    return builds


def deploy_emitted(builds, kind):
    """the emitted code of kind: {batch: images/s} from one run of emit_c_time"""
    def measure(model, rnd):
        if (model, kind) not in builds or rnd >= EMIT_ROUNDS.get(model, DEPLOY_ROUNDS):
            return {}
        reps, batches = EMIT_REPS[model]
        if QUICK:
            reps, batches = max(1, reps // 4), 1
        got = run(builds[(model, kind)] + [str(reps), str(batches)], may_fail=True)
        if not got:
            return {}
        _, ms, per_s = got[0].split()
        return {1: 1000.0 / float(ms), 16: float(per_s)}
    return measure


def per_batch(fn):
    return lambda model, rnd: {b: fn(model, b) for b in DEPLOY_BATCHES}


def deploy_opencv(onnx_paths, model, batch):
    """OpenCV DNN on the ONNX export: images/s, or None"""
    if model not in onnx_paths:
        return None
    got = run([PY, "bench_opencv.py", onnx_paths[model], str(batch), str(deploy_reps(model, batch)),
               str(DEPLOY_THREADS)], may_fail=True)
    return deploy_ips(got, batch)


def deploy_cnnc(model, batch):
    got = run([os.path.join(BUILD, "bench", "bench_cnnc"), os.path.join(SRC, "models", model + ".cnn"), "infer",
               str(batch), str(deploy_reps(model, batch)), str(DEPLOY_THREADS)], CNNC_ENV, may_fail=True)
    return deploy_ips(got, batch)


def deploy_torch_best(model, batch, have_torch):
    if not have_torch:
        return None
    got = run([PY, "bench_torch.py", model, "infer", str(batch), str(deploy_reps(model, batch)),
               str(DEPLOY_THREADS)], BEST, may_fail=True)
    return deploy_ips(got, batch)


def deploy_table(have_torch):
    """single-image latency (ms) and batch-16 throughput (images/s), medians of the rounds; a
    runtime is a column (name, function(model, round) -> {batch: images/s})"""
    print()
    print(f"Deployment ({cpu_name()}, {DEPLOY_THREADS} thread{'s' if DEPLOY_THREADS > 1 else ''}, fresh weights, "
          f"medians of {DEPLOY_ROUNDS} rounds; the emitted C of resnet18 one round): building the emitted code ...")
    sys.stdout.flush()
    with tempfile.TemporaryDirectory() as tmp:
        onnx_paths = deploy_onnx_exports(tmp)
        builds = deploy_emit_builds(tmp)
        runtimes = [
            ("emitted C float", deploy_emitted(builds, "float")),
            ("emitted C int8", deploy_emitted(builds, "int8")),
            ("cnnc runtime", per_batch(deploy_cnnc)),
            ("OpenCV DNN (ONNX)", per_batch(lambda m, b: deploy_opencv(onnx_paths, m, b))),
            ("PyTorch best", per_batch(lambda m, b: deploy_torch_best(m, b, have_torch))),
        ]
        got = {(name, m, b): [] for name, _ in runtimes for m in DEPLOY_MODELS for b in DEPLOY_BATCHES}
        for rnd in range(DEPLOY_ROUNDS):
            for m in DEPLOY_MODELS:
                for name, fn in runtimes:
                    for b, v in fn(m, rnd).items():
                        if v:
                            got[(name, m, b)].append(v)

    def cell(x):
        return "-" if x is None else (f"{x:.1f}" if x >= 10 else f"{x:.2f}")

    names = [name for name, _ in runtimes]
    heads = names + ["float vs OpenCV", "int8 vs float"]
    print("| " + f"{'model':39}" + " | " + " | ".join(f"{h:>17}" for h in heads) + " |")
    print("|" + "-" * 41 + "|" + "|".join("-" * 19 for _ in heads) + "|")
    for m in DEPLOY_MODELS:
        for b in DEPLOY_BATCHES:
            x = {n: (statistics.median(got[(n, m, b)]) if got[(n, m, b)] else None) for n in names}
            ratio = [x["emitted C float"] / x["OpenCV DNN (ONNX)"] if x["emitted C float"] and x["OpenCV DNN (ONNX)"] else None,
                     x["emitted C int8"] / x["emitted C float"] if x["emitted C int8"] and x["emitted C float"] else None]
            if b == 1:      # images/s -> milliseconds per image
                x = {n: (1000.0 / v if v else None) for n, v in x.items()}
            label = f"{m}.cnn, 1 image (ms)" if b == 1 else f"{m}.cnn, batch {b} (images/s)"
            cells = [cell(x[n]) for n in names] + ["-" if r is None else f"{r:.2f}x" for r in ratio]
            print(f"| {label:39} | " + " | ".join(f"{c:>17}" for c in cells) + " |")
    print("ratios: how many times faster the emitted float code is than OpenCV DNN, and the int8 code than the float "
          "code (above 1: faster); the emitted code runs one thread, one image a call (batch 16: 16 calls)")
    # the notebook's model as a user deploys it: trained, on real images (bench/emit_c.sh trained)
    with tempfile.TemporaryDirectory() as tmp:
        got = run(["sh", os.path.join(HERE, "emit_c.sh"), "trained", os.path.join(tmp, "sea")],
                  {"top_srcdir": SRC, "top_builddir": BUILD}, may_fail=True)
    print()
    print("| as deployed                                    | emitted C float | emitted C int8 | OpenCV DNN (ONNX) "
          "| float vs OpenCV | int8 vs float |")
    print("|------------------------------------------------|-----------------|----------------|-------------------"
          "|-----------------|---------------|")
    print(got[0].strip() if got else "note: bench/emit_c.sh trained failed (OpenCV, onnx or the ONNX export missing?)")


if os.environ.get("BENCH_ONLY") != "deploy":
    main()
deploy_table(subprocess.run([PY, "-c", "import torch"], stderr=subprocess.DEVNULL).returncode == 0)
