"""Benchmark CoupledLatentICA against scikit-learn's FastICA, and FastICA vs Picard-O.

Linearly mixed Laplace latents (``make_latent_partial_causal`` with one mixing
layer) so that the true mixing matrix is known. For each method: median fit
time over several repeats, the time ratio to plain ``sklearn`` FastICA (goal
for CoupledLatentICA: <= 1.3) and the normalised Amari distance of the
estimated unmixing to the true mixing (0 = exact up to scaled permutation).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_ica.py [--repeats 5]``.
"""
# License: BSD 3 clause

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.decomposition import FastICA  # noqa: E402

from sklcm import CoupledLatentICA  # noqa: E402
from sklcm.datasets import make_latent_partial_causal  # noqa: E402
from sklcm.metrics import amari_distance  # noqa: E402

METHODS = {
    "sklearn FastICA": lambda seed: FastICA(random_state=seed),
    "sklearn FastICA eigh": lambda seed: FastICA(
        whiten_solver="eigh", random_state=seed
    ),
    "CoupledLatentICA fastica": lambda seed: CoupledLatentICA(random_state=seed),
    "CoupledLatentICA picard": lambda seed: CoupledLatentICA(
        algorithm="picard", random_state=seed
    ),
}


def _linear_data(n_samples, n_latents, seed):
    X, _, info = make_latent_partial_causal(
        n_samples,
        n_latents=n_latents,
        latent_space="real",
        marginal="laplace",
        n_mixing_layers=1,
        random_state=seed,
        return_info=True,
    )
    return X[:, : info.split], info.mixing_x.weights_[0].T


def _run(make, x, A, seed):
    """Fit once; return (seconds, Amari distance, n_iter_)."""
    est = make(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-convergence shows in n_iter
        start = time.perf_counter()
        est.fit(x)
        seconds = time.perf_counter() - start
    return seconds, amari_distance(est.components_, A), est.n_iter_


def bench(n_samples, n_latents, repeats):
    """Median time, Amari distance and n_iter per method over the repeats."""
    results = {name: [] for name in METHODS}
    for seed in range(repeats):
        x, A = _linear_data(n_samples, n_latents, seed)
        for name, make in METHODS.items():  # interleaved: same load for all
            results[name].append(_run(make, x, A, seed))
    return {name: np.median(np.array(rows), axis=0) for name, rows in results.items()}


def _print_table(n_samples, n_latents, repeats, medians):
    ref = medians["sklearn FastICA"][0]
    print(f"\nn_samples={n_samples}, n_latents={n_latents}, median of {repeats}")
    print(f"{'method':<26}{'time [s]':>10}{'ratio':>8}{'Amari':>9}{'n_iter':>8}")
    for name, (seconds, amari, n_iter) in medians.items():
        print(
            f"{name:<26}{seconds:>10.4f}{seconds / ref:>8.2f}"
            f"{amari:>9.4f}{n_iter:>8.0f}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--sizes",
        default="5000x5,20000x10,50000x20",
        help="comma-separated n_samples x n_latents",
    )
    args = parser.parse_args(argv)
    for size in args.sizes.split(","):
        n_samples, n_latents = (int(v) for v in size.split("x"))
        medians = bench(n_samples, n_latents, args.repeats)
        _print_table(n_samples, n_latents, args.repeats, medians)


if __name__ == "__main__":
    main()
