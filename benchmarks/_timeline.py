"""Held-out R² against wall time during training, shared by the benchmarks."""

import time

import numpy as np
import torch
from skorch.callbacks import Callback

from sklcm.metrics import linear_r2_score


class R2Timeline(Callback):
    """Score held-out R² at step checkpoints, with the wall time; stop at the last.

    Checkpoints count optimiser steps, so the learning-rate schedule (also in
    steps) ends where the run ends whatever the machine load. Evaluation time
    is excluded from the clock. Raising KeyboardInterrupt is how skorch
    callbacks end training early (fit / partial_fit catch it).
    """

    def __init__(self, X_test, z_test, split, checkpoints):
        self.X_test, self.z_test, self.split = X_test, z_test, split
        self.checkpoints = checkpoints

    def initialize(self):
        self.records_, self.t0_, self.paused_, self.steps_ = [], None, 0.0, 0
        self.done_ = False
        return self

    def elapsed(self):
        return time.perf_counter() - self.t0_ - self.paused_

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        if self.t0_ is None:
            self.t0_ = time.perf_counter()
        self.steps_ += 1
        due = len(self.records_) < len(self.checkpoints) and (
            self.steps_ >= self.checkpoints[len(self.records_)]
        )
        if due:
            self._record(net)
        if len(self.records_) == len(self.checkpoints):
            self.done_ = True
            raise KeyboardInterrupt

    @torch.no_grad()
    def _record(self, net):
        start = time.perf_counter()
        module = net.module_
        module.eval()
        Z = module.encode(
            torch.as_tensor(self.X_test[:, : self.split], dtype=torch.float32)
        ).numpy()
        module.train()
        r2 = linear_r2_score(self.z_test, Z, random_state=0)
        self.records_.append((self.elapsed(), self.steps_, r2))
        self.paused_ += time.perf_counter() - start


def probe_of(encoder):
    return dict(encoder.net_.callbacks_)["timeline"]


def print_timelines(named_records):
    """Print R² rows side by side: one column per run, one row per checkpoint."""
    names = list(named_records)
    print(f"{'steps':>7} " + " ".join(f"{n:>22}" for n in names))
    for i in range(max(len(r) for r in named_records.values())):
        cells = []
        for n in names:
            recs = named_records[n]
            cells.append(
                f"R² {recs[i][2]:.4f} @{recs[i][0]:>6.0f} s" if i < len(recs) else ""
            )
        steps = next(recs[i][1] for recs in named_records.values() if i < len(recs))
        print(f"{steps:>7d} " + " ".join(f"{c:>22}" for c in cells))


def first_time_reaching(records, threshold):
    hits = [t for t, _, r2 in records if r2 >= threshold]
    return hits[0] if hits else np.nan
