"""Multi-process test helpers: spawn gloo ranks, and leave without a C++ teardown.

Two ranks on the shared 2-core CI machine once died with ``terminate called
without an active exception`` (SIGABRT) *after* their last collective, while
torch tore gloo and the TCP store down at exit. Nothing the tests check happens
then, so a rank that has saved its results leaves with :func:`leave_group`
(a barrier, then ``os._exit``), and :func:`spawn_ranks` retries a launch once
when a rank was killed by a signal rather than by a Python exception.
"""
# License: BSD 3 clause

import os
import sys
import time
import warnings

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp


def leave_group():
    """Wait for every rank, then exit the process without destructors."""
    dist.barrier()  # no rank leaves while another still uses the group
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _run_once(fn, args, nprocs, timeout):
    context = mp.start_processes(
        fn, args=args, nprocs=nprocs, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + timeout
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"the {nprocs} gloo processes did not finish in {timeout} s")


def spawn_ranks(fn, make_args, nprocs=2, timeout=180):
    """Run ``fn(rank, *make_args(attempt))`` in ``nprocs`` spawned processes.

    ``make_args`` gives fresh rendezvous arguments (a port, a store file) for
    each attempt; a second attempt is made only when a rank died by a signal.
    """
    try:
        _run_once(fn, make_args(0), nprocs, timeout)
    except mp.ProcessExitedException as exc:
        if exc.signal_name is None:
            raise
        warnings.warn(f"retrying the launch once: {exc}", stacklevel=2)
        _run_once(fn, make_args(1), nprocs, timeout)
