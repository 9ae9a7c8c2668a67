"""Memory and time of one epoch of ``fit`` on a float64 memory map.

For each size (1e5 and 1e6 pairs x 20 float64 columns, written to a
temporary ``.npy`` and opened with ``mmap_mode="r"``), a fresh subprocess
fits :class:`sklcm.MultimodalContrastiveEncoder` for one epoch and reports

* the growth of peak anonymous memory (``RssAnon``, sampled every
  millisecond by a thread: NumPy, torch and Python allocations; file pages
  of the memory map itself are not counted, they belong to the page cache),
* the growth of peak RSS (``ru_maxrss``, which also counts the mapped file
  pages read during the epoch),
* wall time and optimiser steps (machine-independent),

each as a ratio to the float64 array's size. ``--baseline-src DIR`` runs
the same measurement with the sklcm package found in ``DIR`` (e.g. an
export of an older commit: ``git archive 93218d5 sklcm | tar -x -C DIR``)
side by side.

Run: OMP_NUM_THREADS=1 python benchmarks/bench_scale.py [--baseline-src DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

SIZES = (100_000, 1_000_000)
N_FEATURES = 20
PARAMS = dict(
    n_components=4,
    split=10,
    hidden_layer_sizes=(64, 64),
    batch_size=256,
    max_epochs=1,
    random_state=0,
)

_CHILD = r"""
import json, resource, sys, threading, time
import numpy as np, torch
torch.set_num_threads(1)
from sklcm import MultimodalContrastiveEncoder

def anon_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

params = json.loads(sys.argv[2])
X = np.load(sys.argv[1], mmap_mode="r")
MultimodalContrastiveEncoder(**params).fit(np.asarray(X[:4096]))  # warm-up
base_anon = anon_kib()
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peak, done = [base_anon], []

def watch():
    while not done:
        peak.append(anon_kib())
        time.sleep(0.001)

thread = threading.Thread(target=watch)
thread.start()
start = time.perf_counter()
enc = MultimodalContrastiveEncoder(**params).fit(X)
seconds = time.perf_counter() - start
done.append(True)
thread.join()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({
    "anon": (max(peak) - base_anon) * 1024,
    "rss": (rss - base_rss) * 1024,
    "seconds": seconds,
    "steps": int(getattr(enc, "n_steps_", 0)),
    "sklcm": sys.modules["sklcm"].__file__,
}))
"""


def _measure(path, src):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = src
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, path, json.dumps(PARAMS)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=src,  # `python -c` puts the working directory first on sys.path
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", help="directory holding an older sklcm")
    args = parser.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = [("this", here)]
    if args.baseline_src:
        runs.insert(0, ("baseline", os.path.abspath(args.baseline_src)))
    print(f"one epoch of fit, params {PARAMS}")
    print(
        f"{'pairs':>9} {'X MiB':>6} {'code':>8} {'steps':>6} {'seconds':>8} "
        f"{'peak anon MiB':>13} {'anon/X':>6} {'peak RSS MiB':>12} {'RSS/X':>6}"
    )
    MiB = 2**20
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            path = os.path.join(tmp, f"pairs_{n}.npy")
            X = np.lib.format.open_memmap(
                path, mode="w+", dtype=np.float64, shape=(n, N_FEATURES)
            )
            rng = np.random.default_rng(0)
            for start in range(0, n, 100_000):
                X[start : start + 100_000] = rng.standard_normal(
                    (min(100_000, n - start), N_FEATURES)
                )
            X.flush()
            nbytes = X.nbytes
            del X
            results = {}
            for name, src in runs:
                r = results[name] = _measure(path, src)
                print(
                    f"{n:>9} {nbytes / MiB:>6.1f} {name:>8} {r['steps']:>6} "
                    f"{r['seconds']:>8.2f} {r['anon'] / MiB:>13.1f} "
                    f"{r['anon'] / nbytes:>6.2f} {r['rss'] / MiB:>12.1f} "
                    f"{r['rss'] / nbytes:>6.2f}"
                )
            for name, r in results.items():
                print(f"{'':>9} {name} imported {r['sklcm']}")
            if len(results) == 2:
                b, t = results["baseline"], results["this"]
                print(
                    f"{'':>9} ratios this/baseline: time "
                    f"{t['seconds'] / b['seconds']:.2f}, peak anon "
                    f"{t['anon'] / max(b['anon'], 1):.3f}, peak RSS "
                    f"{t['rss'] / max(b['rss'], 1):.3f}"
                )


if __name__ == "__main__":
    main()
