"""GPU benchmark and checks of MultimodalContrastiveEncoder on one CUDA device.

Five parts, one after the other in one run (``--parts`` selects some; the
default is 1-4, the checks of a few minutes):

1. time per optimiser step of the same fit on CUDA and on the CPU (steps are
   counted from ``n_steps_``; the ratio is CPU time per step over CUDA time
   per step), for a small and a large batch;
2. a CUDA -> CPU pickle round trip: an encoder fitted on CUDA is pickled,
   loaded in a fresh process that sees no GPU (``CUDA_VISIBLE_DEVICES=""``),
   and its ``transform`` compared with the CUDA one;
3. a fit on a float32 ``np.memmap`` larger than the GPU's free memory (most
   of the GPU is first taken by a filler tensor), which only works when
   batches are copied to the device lazily; peak CUDA memory is printed
   beside the array size;
4. the save -> load round trip of the accelerated encoder: a ``torchrun``
   launch (one process, accelerate's multi-GPU mode, so the towers sit on the
   indexed ``cuda:0`` and are wrapped in DDP) fits
   :class:`~sklcm.distributed.AcceleratedContrastiveEncoder` with and
   without bf16 mixed precision and saves it with ``joblib`` from the main
   process, as the Scaling page's ``train.py`` does; fresh processes load
   the file without a GPU (``CUDA_VISIBLE_DEVICES=""``) and with one, and
   their ``transform`` is compared with the training process's;
5. the paper preset of the reproduction, three seeds, on the GPU:
   ``python -m sklcm reproduce --preset paper --device cuda`` into
   ``--paper-out`` (every row by default, ``--paper-settings`` to choose),
   ``--paper-jobs`` runs at a time on the one GPU. An interrupted run keeps
   its finished runs: the same command again resumes it (``--resume``). The
   part prints each finished run's steps, pairs seen and seconds, the wall
   time, and the table. Hours even on a GPU for every row; run it first on
   a machine lent for long enough, then commit ``--paper-out``.

Runs unchanged on any machine with a CUDA build of torch and one visible GPU;
without CUDA it prints why and exits with status 2. Exit status 1 means a
check failed.

Run: python benchmarks/bench_gpu.py [--out benchmarks/results/bench_gpu.txt]
     python benchmarks/bench_gpu.py --parts 4   # the accelerated round trip only
     python benchmarks/bench_gpu.py --parts 5 --paper-out \
         benchmarks/results/reproduce_paper_gpu   # the 3-seed paper preset
"""

import argparse
import csv
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import torch

from sklcm import MultimodalContrastiveEncoder

N_FEATURES, SPLIT, N_COMPONENTS = 20, 10, 10
GIB = 2**30


def _log(*parts):
    line = " ".join(str(p) for p in parts)
    print(line, flush=True)
    _LINES.append(line)


_LINES = []


def _pairs(n_rows, seed, out=None, chunk=1_000_000):
    """Noisy linear views of shared latents, as float32 rows ``[x | t]``."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((N_COMPONENTS, SPLIT))
    B = rng.standard_normal((N_COMPONENTS, N_FEATURES - SPLIT))
    if out is None:
        out = np.empty((n_rows, N_FEATURES), dtype=np.float32)
    rng = np.random.default_rng(seed)
    for start in range(0, n_rows, chunk):
        z = rng.standard_normal((min(chunk, n_rows - start), N_COMPONENTS))
        noise = 0.1 * rng.standard_normal((len(z), N_FEATURES))
        out[start : start + len(z)] = np.hstack([z @ A, z @ B]) + noise
    return out


def _encoder(device, batch_size, **params):
    recipe = dict(
        n_components=N_COMPONENTS,
        split=SPLIT,
        hidden_layer_sizes=(256, 256, 256),
        batch_size=batch_size,
        max_epochs=1,
        device=device,
        random_state=0,
    )
    return MultimodalContrastiveEncoder(**{**recipe, **params})


def _timed_fit(device, batch_size, steps):
    X = _pairs(steps * batch_size, seed=1)
    enc = _encoder(device, batch_size)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    enc.fit(X)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return enc.n_steps_, seconds


def step_times(batch_sizes, cuda_steps, cpu_steps):
    _log("\n== 1. time per step, same fit on CUDA and CPU (MLP 256x3, 20 features)")
    _log(f"CPU: {torch.get_num_threads()} torch threads, {platform.processor()!r}")
    _timed_fit("cuda", 256, 20)  # CUDA context, cuBLAS handles, kernels
    _log(
        f"{'batch':>6} {'device':>6} {'steps':>6} {'seconds':>8} {'ms/step':>8} "
        f"{'pairs/s':>10}"
    )
    for batch_size in batch_sizes:
        per_step = {}
        for device, steps in (("cuda", cuda_steps), ("cpu", cpu_steps)):
            n_steps, seconds = _timed_fit(device, batch_size, steps)
            per_step[device] = seconds / n_steps
            _log(
                f"{batch_size:>6} {device:>6} {n_steps:>6} {seconds:>8.2f} "
                f"{1e3 * seconds / n_steps:>8.2f} "
                f"{n_steps * batch_size / seconds:>10.0f}"
            )
        _log(
            f"{batch_size:>6}  CPU/CUDA time per step: "
            f"{per_step['cpu'] / per_step['cuda']:.1f}x"
        )
    return True


_LOAD_ON_CPU = """
import pickle, sys
import numpy as np, torch
assert not torch.cuda.is_available(), "the child process still sees a GPU"
with open(sys.argv[1], "rb") as f:
    enc = pickle.load(f)
np.save(sys.argv[3], enc.transform(np.load(sys.argv[2])))
print(enc.device_, next(enc.net_.module_.parameters()).device)
"""


def pickle_round_trip(tmp):
    _log("\n== 2. CUDA -> CPU pickle round trip")
    X = _pairs(20_000, seed=2)
    X_test = _pairs(5_000, seed=3)
    enc = _encoder("cuda", 512, max_epochs=2).fit(X)
    Z_cuda = enc.transform(X_test)
    paths = [os.path.join(tmp, name) for name in ("enc.pkl", "X.npy", "Z.npy")]
    with open(paths[0], "wb") as f:
        pickle.dump(enc, f)
    np.save(paths[1], X_test)
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    child = subprocess.run(
        [sys.executable, "-c", _LOAD_ON_CPU, *paths],
        capture_output=True,
        text=True,
        env=env,
    )
    if child.returncode:
        _log("FAIL: loading on the CPU raised:\n" + child.stderr[-2000:])
        return False
    Z_cpu = np.load(paths[2])
    diff = float(np.abs(Z_cpu - Z_cuda).max())
    ok = Z_cpu.dtype == Z_cuda.dtype and diff < 1e-4
    _log(
        f"fitted on {enc.device_}; loaded without GPU: device_, weights = "
        f"{child.stdout.strip()}"
    )
    _log(
        f"transform max |CPU - CUDA| = {diff:.2e} on {len(X_test)} pairs: "
        f"{'OK' if ok else 'FAIL'} (tolerance 1e-4)"
    )
    return ok


# the Scaling page's train.py with a mixed-precision choice, run by torchrun
_ACCELERATED_TRAIN = """
import pickle, sys
import joblib, numpy as np
from accelerate import Accelerator
from sklcm.distributed import AcceleratedContrastiveEncoder
X, X_test = np.load(sys.argv[1]), np.load(sys.argv[2])
enc = AcceleratedContrastiveEncoder(
    n_components=10, split=10, hidden_layer_sizes=(256, 256, 256),
    batch_size=512, max_epochs=2, random_state=0,
    accelerator=Accelerator(mixed_precision=sys.argv[4]),
)
enc.fit(X)
Z = enc.transform(X_test)
again = pickle.loads(pickle.dumps(enc)).transform(X_test)
if enc.net_.accelerator.is_main_process:
    joblib.dump(enc, sys.argv[3])
    np.save(sys.argv[3] + ".Z.npy", Z)
    print(enc.device_, enc.net_.accelerator.distributed_type,
          f"in-process pickle max diff {float(np.abs(again - Z).max()):.1e}")
"""

_ACCELERATED_LOAD = """
import sys
import joblib, numpy as np, torch
enc = joblib.load(sys.argv[1])
np.save(sys.argv[3], enc.transform(np.load(sys.argv[2])))
print(enc.device_, next(enc.net_.module_.parameters()).device,
      enc.accelerator, enc.net_.accelerator, torch.cuda.is_available())
"""


def _python(code_or_script, args, **env):
    """Run python code (or ``torchrun`` on a script) in a fresh process."""
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        **env,
    }
    if os.path.isfile(code_or_script):
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        command += ["--nproc_per_node", "1", code_or_script]
    else:
        command = [sys.executable, "-c", code_or_script]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=environ
    )


def accelerated_round_trip(tmp, use_cpu=False):
    """Part 4; ``use_cpu`` rehearses the plumbing without a GPU (gloo, CPU)."""
    _log("\n== 4. accelerated encoder: torchrun fit -> joblib file -> fresh loads")
    X, X_test = _pairs(20_000, seed=5), _pairs(5_000, seed=6)
    data = [os.path.join(tmp, name) for name in ("acc_X.npy", "acc_Xtest.npy")]
    np.save(data[0], X)
    np.save(data[1], X_test)
    script = os.path.join(tmp, "train.py")
    with open(script, "w") as f:
        f.write(_ACCELERATED_TRAIN)
    launch_env = {"ACCELERATE_USE_CPU": "1"} if use_cpu else {}
    ok = True
    for precision in ("no", "bf16"):
        saved = os.path.join(tmp, f"encoder_{precision}.joblib")
        start = time.perf_counter()
        child = _python(script, [*data, saved, precision], **launch_env)
        if child.returncode:
            _log(f"FAIL ({precision}): the launch raised:\n" + child.stderr[-2000:])
            ok = False
            continue
        seconds = time.perf_counter() - start
        _log(
            f"mixed_precision={precision!r}: fitted in {seconds:.1f} s (launch "
            f"included); device_, mode, pickle check = {child.stdout.strip()}"
        )
        Z_train = np.load(saved + ".Z.npy")
        loads = [("no GPU", {"CUDA_VISIBLE_DEVICES": ""})]
        if not use_cpu:
            loads.append(("a GPU", {}))
        for where, env in loads:
            Z_path = os.path.join(tmp, "acc_Z_loaded.npy")
            child = _python(_ACCELERATED_LOAD, [saved, data[1], Z_path], **env)
            if child.returncode:
                _log(f"FAIL: loading with {where} raised:\n" + child.stderr[-2000:])
                ok = False
                continue
            diff = float(np.abs(np.load(Z_path) - Z_train).max())
            good = diff < 1e-4
            ok = ok and good
            _log(
                f"  loaded with {where}: device_, weights, accelerator, "
                f"net_.accelerator, cuda = {child.stdout.strip()}; transform max "
                f"|loaded - trained| = {diff:.2e}: {'OK' if good else 'FAIL'} "
                "(tolerance 1e-4)"
            )
    return ok


def paper_preset(out, settings, seeds, n_jobs):
    """Part 5: the reproduction's paper preset on the GPU, resumable."""
    _log(f"\n== 5. paper preset, {seeds} seeds, settings {settings}, into {out}")
    if os.path.isfile(os.path.join(out, "runs.json")):
        command = ["--resume", out]  # the finished runs of an earlier try stay
    else:
        command = ["--preset", "paper", "--seeds", str(seeds), "--out", out]
        command += ["--settings", *settings]
    command += ["--device", "cuda", "--n-jobs", str(n_jobs), "--no-figures"]
    _log("python -m sklcm reproduce " + " ".join(command))
    start = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-m", "sklcm", "reproduce", *command],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if child.returncode:
        _log(f"FAIL: reproduce exited {child.returncode}:\n" + child.stderr[-2000:])
        return False
    with open(os.path.join(out, "runs.csv"), newline="") as f:
        runs = list(csv.DictReader(f))
    _log(f"{'setting':<16}{'seed':>5}{'budget':>8}{'steps':>8}{'pairs':>11}{'s':>8}")
    for run in runs:
        _log(
            f"{run['setting']:<16}{run['seed']:>5}{run['budget']:>8}"
            f"{run['steps']:>8}{run['pairs_seen']:>11}{float(run['time']):>8.0f}"
        )
    _log(f"{len(runs)} runs, this call {seconds:.0f} s wall\n")
    _log(child.stdout)
    return True


def memmap_larger_than_gpu(tmp, keep_free_gib, factor, max_steps):
    _log("\n== 3. fit on a np.memmap larger than the GPU's free memory")
    free, total = torch.cuda.mem_get_info()
    filler_bytes = max(0, free - int(keep_free_gib * GIB))
    filler = torch.empty(filler_bytes, dtype=torch.uint8, device="cuda")
    free_now = torch.cuda.mem_get_info()[0]
    rows = int(factor * free_now / (4 * N_FEATURES))
    nbytes = rows * N_FEATURES * 4
    _log(
        f"GPU total {total / GIB:.1f} GiB; a filler takes {filler_bytes / GIB:.1f} "
        f"GiB, leaving {free_now / GIB:.2f} GiB free; memmap {rows} x {N_FEATURES} "
        f"float32 = {nbytes / GIB:.2f} GiB ({nbytes / free_now:.1f}x the free memory)"
    )
    disk = shutil.disk_usage(tmp).free
    if disk < 1.2 * nbytes:
        _log(f"SKIPPED: {disk / GIB:.1f} GiB free on {tmp}; pass --tmpdir elsewhere")
        return True
    path = os.path.join(tmp, "pairs.f32")
    start = time.perf_counter()
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(rows, N_FEATURES))
    _pairs(rows, seed=4, out=X)
    X.flush()
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(rows, N_FEATURES))
    _log(f"memmap written in {time.perf_counter() - start:.1f} s")
    enc = _encoder("cuda", 4096, max_steps=max_steps)
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    try:
        enc.fit(X)
        torch.cuda.synchronize()
    except torch.cuda.OutOfMemoryError as exc:
        _log(f"FAIL: out of GPU memory, the array was copied whole: {exc}"[:400])
        return False
    finally:
        peak = torch.cuda.max_memory_allocated()
        del filler
        torch.cuda.empty_cache()
    seconds = time.perf_counter() - start
    Z = enc.transform(X[:100_000])
    ok = bool(np.isfinite(Z).all()) and enc.n_steps_ > 0
    _log(
        f"fit: {enc.n_steps_} steps of 4096 pairs in {seconds:.1f} s "
        f"({1e3 * seconds / max(enc.n_steps_, 1):.2f} ms/step); peak CUDA memory "
        f"allocated {peak / 2**20:.0f} MiB = {peak / nbytes:.3f}x the array; "
        f"transform finite: {'OK' if ok else 'FAIL'}"
    )
    del X
    os.remove(path)
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the output to this file")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--cuda-steps", type=int, default=200)
    parser.add_argument("--cpu-steps", type=int, default=40)
    parser.add_argument(
        "--keep-free-gib",
        type=float,
        default=1.0,
        help="GPU memory left free by the filler in part 3",
    )
    parser.add_argument(
        "--factor",
        type=float,
        default=1.5,
        help="memmap size in part 3, times the free GPU memory",
    )
    parser.add_argument(
        "--memmap-steps", type=int, default=300, help="max_steps of the memmap fit"
    )
    parser.add_argument("--tmpdir", default=tempfile.gettempdir())
    parser.add_argument(
        "--paper-out",
        default="sklcm-reproduce-paper-gpu",
        help="output directory of part 5 (resumed when it holds runs)",
    )
    parser.add_argument(
        "--paper-settings",
        nargs="+",
        default=["all"],
        help="rows of part 5 (names or groups, as reproduce --settings)",
    )
    parser.add_argument("--paper-seeds", type=int, default=3)
    parser.add_argument(
        "--paper-jobs", type=int, default=4, help="part 5 runs at a time on the GPU"
    )
    parser.add_argument(
        "--parts",
        type=int,
        nargs="+",
        choices=[1, 2, 3, 4, 5],
        default=[1, 2, 3, 4],
        help="which parts to run",
    )
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(
            "bench_gpu.py needs a CUDA GPU, and torch sees none "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}). "
            "Run it on a machine with an NVIDIA GPU and a CUDA build of torch.",
            file=sys.stderr,
        )
        sys.exit(2)
    _log(f"# python benchmarks/bench_gpu.py {' '.join(sys.argv[1:])}")
    _log(
        f"# torch {torch.__version__} (CUDA {torch.version.cuda}), "
        f"{torch.cuda.get_device_name()}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    parts = [
        lambda: step_times(args.batch_sizes, args.cuda_steps, args.cpu_steps),
        lambda: pickle_round_trip(tmp),
        lambda: memmap_larger_than_gpu(
            tmp, args.keep_free_gib, args.factor, args.memmap_steps
        ),
        lambda: accelerated_round_trip(tmp),
        lambda: paper_preset(
            args.paper_out, args.paper_settings, args.paper_seeds, args.paper_jobs
        ),
    ]
    ok = True
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        for number in args.parts:
            part = parts[number - 1]
            try:
                ok = part() and ok
            except Exception:  # report and go on with the next part
                _log("FAIL: " + traceback.format_exc()[-2000:])
                ok = False
    _log("\nall checks passed" if ok else "\nsome checks FAILED")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(_LINES) + "\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
