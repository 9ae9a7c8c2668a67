"""Run one row of the synthetic table for one seed: sample, train, score."""
# License: BSD 3 clause

import contextlib
import functools
import math
import multiprocessing
import queue
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import numpy as np
import torch

import sklcm
from sklcm.datasets import LatentPartialCausalSampler
from sklcm.metrics import (
    disentanglement_completeness_informativeness,
    linear_r2_score,
    mean_corr_coef,
    mig_score,
)

from ._presets import PRESETS, Preset


def _resolve_preset(preset):
    if isinstance(preset, Preset):
        return preset
    if preset not in PRESETS:
        raise ValueError(
            f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}."
        )
    return PRESETS[preset]


def _steps(setting, preset):
    """Schedule length of a row: the budget of its geometry's theorem row."""
    return preset.sphere_steps if setting.latent_space == "sphere" else preset.box_steps


# Monte Carlo size and fixed seeds of the noise-level calibration.
_NOISE_PAIRS = 10_000
_NOISE_ROUNDS = 5
# The theorem row whose relative noise level each encoder geometry matches.
_NOISE_REFERENCE = {"sphere": "sphere-vmf", "box": "box-laplace", "real": "box-laplace"}


def _relative_noise(data, n_latents):
    """Per-coordinate std of ``z_t - z_x`` over that of ``z_x`` (Monte Carlo).

    Parameters
    ----------
    data : dict
        Keyword arguments of :class:`~sklcm.datasets.LatentPartialCausalSampler`
        besides ``n_latents``.
    n_latents : int
        Dimension of the coupled latents.

    Returns
    -------
    ratio : float
        Mean over coordinates of ``std(z_t - z_x)``, divided by the mean over
        coordinates of ``std(z_x)``, from 10000 pairs drawn with a fixed seed.

    """
    sampler = LatentPartialCausalSampler(
        n_latents, n_mixing_layers=1, random_state=0, **data
    )
    _, z_x, info = sampler.sample(_NOISE_PAIRS, random_state=0, return_info=True)
    return float((info.z_t - z_x).std(axis=0).mean() / z_x.std(axis=0).mean())


def _matched_concentration(setting, n_latents):
    """``concentration`` giving ``setting`` its reference row's relative noise."""
    reference = setting.noise_reference or _NOISE_REFERENCE[setting.latent_space]
    return _calibrate(reference, tuple(setting.data.items()), n_latents)


@functools.cache
def _calibrate(reference, data, n_latents):
    from ._presets import select_settings

    (reference,) = select_settings([reference])
    target = _relative_noise(reference.data, n_latents)
    data = dict(data)
    concentration = float(data.get("concentration", 10.0))
    for _ in range(_NOISE_ROUNDS):  # the noise std is about ∝ 1 / concentration
        data["concentration"] = concentration
        concentration *= _relative_noise(data, n_latents) / target
    return round(concentration, 3)


def _make_sampler(setting, n_latents, seed):
    """The setting's generative model, its mixing functions seeded by ``seed``."""
    data = dict(setting.data)
    if setting.match_noise:
        data["concentration"] = _matched_concentration(setting, n_latents)
    if setting.feature_ratio is not None:
        k = np.broadcast_to(data.get("n_specific", 0), 2)
        data["n_features"] = tuple(
            math.ceil(r * (n_latents + int(k_m)))
            for r, k_m in zip(setting.feature_ratio, k)
        )
    return LatentPartialCausalSampler(n_latents, random_state=seed, **data)


def _n_latents(setting, preset):
    """The row's ``n_latents`` when it sets one, else the preset's."""
    return setting.n_latents or preset.n_latents


def _make_encoder(setting, preset, sampler, steps, seed, device):
    n_latents = _n_latents(setting, preset)
    params = {
        "n_components": math.ceil(setting.component_ratio * n_latents),
        "split": sampler.split,
        "latent_space": setting.latent_space,
        "temperature": preset.box_temperature
        if setting.latent_space != "sphere"
        else preset.temperature,
        "learn_temperature": preset.learn_box_temperature
        and setting.latent_space != "sphere",
        "hidden_layer_sizes": preset.hidden_layer_sizes,
        "box_squash": preset.box_squash,
        "whiten_inputs": preset.whiten_inputs,
        "ema_decay": preset.ema_decay,
        "batch_size": preset.batch_size * setting.batch_factor,
        "lr": preset.lr,
        "max_steps": steps,
        "device": device,
        "random_state": seed,
        "representation": "both",  # transform gives [z_x | z_t] for the ICA rows
        **setting.encoder,
    }
    return sklcm.MultimodalContrastiveEncoder(**params)


def _modalities(sampler, X):
    return X[:, : sampler.split], X[:, sampler.split :]


def _baseline(setting, sampler, n_latents, fit, test, seed):
    """Linear baseline on raw x: held-out R², or MCC of linear ICA fitted on x."""
    x_fit, x_test = _modalities(sampler, fit[0])[0], _modalities(sampler, test[0])[0]
    if setting.metric == "r2":
        return "R² raw x", linear_r2_score(test[1], x_test, random_state=seed)
    ica = sklcm.CoupledLatentICA(
        n_components=n_latents, max_iter=2000, random_state=seed
    )
    ica.fit(x_fit)
    return "MCC ICA(x)", mean_corr_coef(test[1], ica.transform(x_test))


# Fractions of the budget at which held-out scores are recorded (the last
# quarter of the schedule; ``late_scores``, for information: under a cosine
# schedule the score rises there at any budget, as the learning rate anneals).
_CHECKPOINTS = (0.75, 5 / 6, 11 / 12, 1.0)
# The convergence mark: a companion run of the same recipe with half the
# budget (a cosine of its own) estimates the gain of one doubling of the
# budget; a 4/3-budget run is predicted to gain log2(4/3) of it (an
# overestimate while returns diminish). Converged: |predicted gain| < 0.3
# points. It costs half a run more, not a second full run.
_CONVERGENCE_TOL = 0.003
_EXTENSION_PER_DOUBLING = math.log2(4 / 3)
_N_CHECK = 4000  # held-out pairs of the convergence checks


class _TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run's training before its budget (``n_steps`` taken)."""

    def __init__(self, setting, seed, n_steps, steps):
        super().__init__(
            f"{setting} (seed {seed}) interrupted after {n_steps} of {steps} steps"
        )
        self.setting, self.seed, self.n_steps, self.steps = (
            setting,
            seed,
            n_steps,
            steps,
        )

    def __reduce__(self):  # raised in worker processes, re-raised in the parent
        return type(self), (self.setting, self.seed, self.n_steps, self.steps)


def _check_score(setting, encoder, sampler, check, seed):
    """Cheap held-out score of the encoder alone (linear R² on ICA rows)."""
    Z = encoder.encode(_modalities(sampler, check[0])[0], "x")
    if setting.metric == "mcc" and not setting.ica:
        return mean_corr_coef(check[1], Z)
    return linear_r2_score(check[1], Z, random_state=seed)


def _train(setting, encoder, sampler, steps, chunk_steps, rng, check, seed, report):
    """Stream fresh chunks through ``partial_fit`` until ``steps`` steps ran.

    The last chunk is cut so that no call passes the schedule's end. Ctrl-C
    during ``partial_fit`` is re-raised by the encoder, which keeps the steps
    taken: raise :class:`_TrainingInterrupted` naming them. Returns the
    training time and the held-out scores at the checkpoints of
    ``_CHECKPOINTS``.
    """
    due = [math.ceil(f * steps) for f in _CHECKPOINTS]
    checks, train_time = [], 0.0
    batch = encoder.batch_size
    while not hasattr(encoder, "n_steps_") or encoder.n_steps_ < steps:
        done = getattr(encoder, "n_steps_", 0)
        n_steps = min(chunk_steps, steps - done)
        X, _ = sampler.sample(n_steps * batch, rng)
        start = time.perf_counter()
        try:
            encoder.partial_fit(X)
        except KeyboardInterrupt as exc:
            taken = getattr(encoder, "n_steps_", done)
            raise _TrainingInterrupted(setting.name, seed, taken, steps) from exc
        train_time += time.perf_counter() - start
        report("train", step=encoder.n_steps_, steps=steps, elapsed=train_time)
        if due and encoder.n_steps_ >= due[0]:
            due = [d for d in due if d > encoder.n_steps_]
            checks.append(_check_score(setting, encoder, sampler, check, seed))
    return train_time, checks


def convergence_gain(score, half_budget_score):
    """Predicted change of the score with a 4/3 budget (the convergence mark).

    ``(score - half_budget_score) * log2(4/3)``: the change from half the
    budget to the full budget is one doubling; a 4/3 budget is log2(4/3) of
    a doubling further. While returns diminish with the budget this
    overestimates the change, so a run marked converged (|gain| < 0.003,
    0.3 points) is not one that more steps would move by more.

    Parameters
    ----------
    score : float
        Held-out score at the full budget.
    half_budget_score : float
        Held-out score of the same recipe trained with half the budget.

    Returns
    -------
    gain : float
        Predicted change of the score (a fraction, not points).

    Examples
    --------
    >>> from sklcm.experiments._runner import convergence_gain
    >>> round(convergence_gain(0.99, 0.98), 4)
    0.0042
    """
    return float((score - half_budget_score) * _EXTENSION_PER_DOUBLING)


def _half_budget_score(setting, preset, sampler, steps, seed, device, check):
    """Held-out check score and training time of the row's recipe with half
    the budget, on the same stream of pairs (the convergence mark)."""
    half = max(1, steps // 2)
    encoder = _make_encoder(setting, preset, sampler, half, seed, device)
    train_time, _ = _train(
        setting,
        encoder,
        sampler,
        half,
        preset.chunk_steps,
        np.random.default_rng([seed, 3]),
        check,
        seed,
        lambda event, **info: None,
    )
    return float(_check_score(setting, encoder, sampler, check, seed)), train_time


def _coupled_ica(encoder, n_latents, fit, test, seed):
    """MCC after CoupledLatentICA fitted on fresh ``[z_x | z_t]`` pairs."""
    ica = sklcm.CoupledLatentICA(
        n_components=n_latents, split=encoder.n_components, random_state=seed
    )
    ica.fit(encoder.transform(fit[0]))  # representation="both": [z_x | z_t]
    S = ica.transform(encoder.transform(test[0]))[:, :n_latents]
    return mean_corr_coef(test[1], S), S


def _disentanglement(z_true, z_pred, seed):
    """DCI disentanglement, completeness (forest importances) and MIG.

    Computed on the first ``_N_CHECK`` held-out pairs: about 0.5 s of one
    CPU core for 10 latents.
    """
    z_true, z_pred = z_true[:_N_CHECK], z_pred[:_N_CHECK]
    dci = disentanglement_completeness_informativeness(
        z_true, z_pred, regressor="random_forest", random_state=seed
    )
    return {
        "dci_disentanglement": dci.disentanglement,
        "dci_completeness": dci.completeness,
        "mig": mig_score(z_true, z_pred),
    }


def _record(setting, preset, sampler, encoder, seed):
    """Parameters of one run, flat, for the CSV/JSON output."""
    return {
        "setting": setting.name,
        "group": setting.group,
        "process": setting.process,
        "model": setting.model,
        "metric": setting.metric,
        "seed": seed,
        "preset": preset.name,
        "n_latents": _n_latents(setting, preset),
        "latent_space": sampler.latent_space,
        "marginal": sampler.marginal,
        "conditional": sampler.conditional,
        "concentration": sampler.concentration,
        "beta": sampler.beta,
        "n_specific": list(sampler.n_specific),
        "n_features": list(sampler.n_features),
        "n_mixing_layers": sampler.n_mixing_layers,
        "encoder_space": encoder.latent_space,
        "n_components": encoder.n_components,
        "hidden_layer_sizes": list(encoder.hidden_layer_sizes),
        "temperature": encoder.temperature,
        "learn_temperature": encoder.learn_temperature,
        "final_temperature": encoder.temperature_,
        "batch_size": encoder.batch_size,
        "lr": encoder.lr,
        "budget": encoder.max_steps,
        "steps": encoder.n_steps_,
        "pairs_seen": encoder.n_steps_ * encoder.batch_size,
        "paper": setting.paper,
    }


def run_setting(
    setting,
    seed=0,
    *,
    preset="quick",
    device="auto",
    progress=None,
    return_latents=False,
):
    """Train and score the model of one table row for one seed.

    Draws a latent partial causal model (mixing functions seeded by ``seed``),
    trains the row's :class:`~sklcm.MultimodalContrastiveEncoder` on a stream
    of fresh pairs with :meth:`~sklcm.MultimodalContrastiveEncoder.partial_fit`
    (the cosine schedule spans all steps), and scores it on held-out pairs
    against the true z_x, next to a linear baseline computed on raw x.

    Every row gets the step budget of its encoder geometry's theorem row.
    Convergence mark: the same recipe is trained a second time with half
    the budget (its own cosine schedule, the same stream of pairs) and both
    encoders are scored on 4000 further held-out pairs (linear R² on R² and
    ICA rows, MCC on the other MCC rows); the change from half to full
    budget, times log2(4/3), predicts what a 4/3-budget run would change
    (``extension_gain``; an overestimate while returns diminish). The run is
    marked ``converged=False`` when it exceeds 0.003 (0.3 points) in
    absolute value. The scores at a few checkpoints of the last quarter of
    the budget are recorded too (``late_scores``, ``drift``: their range).
    Rows with ``match_noise`` get the ``concentration`` that matches the
    relative noise level of their geometry's theorem row (or of their
    ``noise_reference``): the per-coordinate std of ``z_t - z_x`` over that
    of ``z_x`` (Monte Carlo, fixed seed).

    Ctrl-C during training (which the encoder re-raises) is raised again as
    a ``KeyboardInterrupt`` naming the steps taken; no result is returned
    for an interrupted run.

    Parameters
    ----------
    setting : Setting or str
        The row (see :data:`sklcm.experiments.SETTINGS`) or its name.
    seed : int, default=0
        Seeds the mixing functions, the samples and the encoder.
    preset : Preset or str, default="quick"
        Training recipe (see :data:`sklcm.experiments.PRESETS`).
    device : str, default="auto"
        Torch device of the encoder.
    progress : callable, default=None
        Called as ``progress(event, **info)`` with ``event`` in
        ``{"start", "train", "done"}``; "train" comes after every chunk with
        ``step``, ``steps`` and ``elapsed`` (seconds).
    return_latents : bool, default=False
        Also return the held-out true latents (``"z_true"``) and the
        representation that was scored (``"z_pred"``; after ICA on ICA rows).

    Returns
    -------
    result : dict
        Parameters (data, model, recipe, seed) and results: ``score`` (the
        headline metric), ``r2``, ``mcc``, ``mcc_ica`` (NaN without ICA),
        ``dci_disentanglement``, ``dci_completeness`` (random-forest
        importances) and ``mig`` (20 bins) of the scored representation
        (after ICA on ICA rows) on 4000 of the held-out pairs,
        ``baseline`` with its ``baseline_name``, ``fit_time`` and ``time``
        (seconds), ``steps`` (optimiser steps taken), ``budget`` (steps
        asked), ``pairs_seen``, ``late_scores`` (the checkpoint scores),
        ``drift`` (their range), ``half_budget_score``, ``extension_gain``
        (the predicted change with a 4/3 budget), ``half_budget_time`` and
        ``converged``.

    Examples
    --------
    >>> from sklcm.experiments import run_setting
    >>> result = run_setting("box-laplace", seed=0, preset="smoke")
    >>> result["metric"], result["steps"], 0 <= result["score"] <= 1
    ('mcc', 20, True)
    """
    start = time.perf_counter()
    if isinstance(setting, str):
        from ._presets import select_settings

        (setting,) = select_settings([setting])
    preset = _resolve_preset(preset)

    def report(event, **info):
        if progress is not None:
            progress(event, setting=setting.name, seed=seed, **info)

    report("start")
    n = _n_latents(setting, preset)
    steps = _steps(setting, preset)
    sampler = _make_sampler(setting, n, seed)
    test = sampler.sample(preset.n_test, np.random.default_rng([seed, 1]))
    fit = sampler.sample(preset.n_baseline, np.random.default_rng([seed, 2]))
    baseline_name, baseline = _baseline(setting, sampler, n, fit, test, seed)
    check = sampler.sample(
        min(preset.n_test, _N_CHECK), np.random.default_rng([seed, 4])
    )
    encoder = _make_encoder(setting, preset, sampler, steps, seed, device)
    fit_time, checks = _train(
        setting,
        encoder,
        sampler,
        steps,
        preset.chunk_steps,
        np.random.default_rng([seed, 3]),
        check,
        seed,
        report,
    )
    half_score, half_time = _half_budget_score(
        setting, preset, sampler, steps, seed, device, check
    )
    Z = encoder.encode(_modalities(sampler, test[0])[0], "x")
    result = _record(setting, preset, sampler, encoder, seed)
    gain = convergence_gain(
        _check_score(setting, encoder, sampler, check, seed), half_score
    )
    result.update(
        late_scores=[float(c) for c in checks],
        drift=float(np.ptp(checks)) if checks else float("nan"),
        half_budget_score=half_score,
        extension_gain=gain,
        converged=bool(abs(gain) < _CONVERGENCE_TOL),
        half_budget_time=half_time,
        r2=linear_r2_score(test[1], Z, random_state=seed),
        mcc=mean_corr_coef(test[1], Z),
        mcc_ica=float("nan"),
    )
    if setting.ica:
        result["mcc_ica"], Z = _coupled_ica(encoder, n, fit, test, seed)
    result["score"] = result["mcc_ica"] if setting.ica else result[setting.metric]
    result.update(_disentanglement(test[1], Z, seed))
    result.update(
        baseline=baseline,
        baseline_name=baseline_name,
        fit_time=fit_time,
        time=time.perf_counter() - start,
    )
    if return_latents:
        result.update(z_true=test[1], z_pred=Z)
    report("done", score=result["score"], elapsed=result["time"])
    return result


@contextlib.contextmanager
def _one_torch_thread():
    """Run torch on one thread (as every worker process does), then restore."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_WORKER_EVENTS = None  # the parent's event queue, in worker processes


def _init_worker(events):
    global _WORKER_EVENTS
    torch.set_num_threads(1)
    _WORKER_EVENTS = events


def _forward_event(event, **info):
    _WORKER_EVENTS.put((event, info))


def _run_one(setting, seed, row, n_rows, preset, device, return_latents, progress):
    """One (setting, seed) run; its progress events carry ``row`` and ``n_rows``."""

    def report(event, **info):
        if progress is not None:
            progress(event, row=row, n_rows=n_rows, **info)

    return run_setting(
        setting,
        seed,
        preset=preset,
        device=device,
        progress=report,
        return_latents=return_latents,
    )


def _run_task(setting, seed, preset, device, return_latents, row, n_rows):
    """One run in a worker process; progress goes to the parent's queue."""
    return _run_one(
        setting, seed, row, n_rows, preset, device, return_latents, _forward_event
    )


def reproduce(
    preset="quick",
    settings=None,
    n_seeds=None,
    *,
    device="auto",
    progress=None,
    return_latents=False,
    n_jobs=1,
    skip=(),
    on_run=None,
):
    """Run every selected row of the synthetic table for every seed.

    Each run uses one torch thread, so its result does not depend on
    ``n_jobs``: the runs are identical whether they share one process or
    are spread over several. Runs start seed by seed (every row's seed 0
    first), so an interrupted command has a one-seed table as early as
    possible.

    Parameters
    ----------
    preset : str or Preset, default="quick"
        Training recipe: "quick", "paper" (wider encoder, longer schedule,
        3 seeds) or "smoke" (seconds); see :data:`PRESETS`.
    settings : list of str, default=None
        Setting or group names (see :func:`select_settings`); None runs all.
    n_seeds : int, default=None
        Seeds 0, ..., n_seeds - 1 per row; None uses the preset's number.
    device : str, default="auto"
        Torch device of the encoders.
    progress : callable, default=None
        Forwarded to :func:`run_setting`, with ``row`` and ``n_rows`` added;
        with ``n_jobs > 1`` the events of the worker processes are relayed
        in the calling process (interleaved).
    return_latents : bool, default=False
        Keep the held-out latents of each run (for :func:`save_figures`).
    n_jobs : int, default=1
        Runs trained at the same time, each in its own process with one
        torch thread; 1 runs them one after the other in this process.
    skip : iterable of (str, int), default=()
        ``(setting name, seed)`` of runs not to do again (finished runs read
        back from an earlier output folder).
    on_run : callable, default=None
        Called with each result as soon as its run is finished, in this
        process (e.g. to write it to disk).

    Returns
    -------
    runs : list of dict
        One result of :func:`run_setting` per run done (those in ``skip``
        left out), in table order: row by row, seed by seed.

    Examples
    --------
    >>> from sklcm.experiments import reproduce, summarize
    >>> runs = reproduce("smoke", ["sphere-vmf"], n_seeds=2)
    >>> [(r["setting"], r["seed"]) for r in runs]
    [('sphere-vmf', 0), ('sphere-vmf', 1)]
    >>> summarize(runs)[0]["paper"]
    '99.5 ± 0.1'
    """
    from ._presets import select_settings

    chosen = select_settings(settings)
    preset = _resolve_preset(preset)
    n_seeds = preset.n_seeds if n_seeds is None else int(n_seeds)
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}.")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be an int >= 1, got {n_jobs!r}.")
    skip = {(str(name), int(seed)) for name, seed in skip}
    tasks = [  # seed by seed: a one-seed table is complete first
        (setting, seed, row)
        for seed in range(n_seeds)
        for row, setting in enumerate(chosen, start=1)
        if (setting.name, seed) not in skip
    ]
    done = {}

    def finish(task, result):
        done[task[2], task[1]] = result
        if on_run is not None:
            on_run(result)

    if n_jobs == 1 or len(tasks) <= 1:
        with _one_torch_thread():
            for task in tasks:
                setting, seed, row = task
                result = _run_one(
                    setting,
                    seed,
                    row,
                    len(chosen),
                    preset,
                    device,
                    return_latents,
                    progress,
                )
                finish(task, result)
    else:
        _run_parallel(
            tasks, preset, device, return_latents, n_jobs, len(chosen), progress, finish
        )
    return [done[key] for key in sorted(done)]


def _run_parallel(
    tasks, preset, device, return_latents, n_jobs, n_rows, progress, finish
):
    """Run ``tasks`` in ``n_jobs`` spawned processes, in their order."""
    context = multiprocessing.get_context("spawn")
    events = context.Queue()

    def relay():
        while True:
            try:
                event, info = events.get_nowait()
            except queue.Empty:
                return
            if progress is not None:
                progress(event, **info)

    executor = ProcessPoolExecutor(
        min(n_jobs, len(tasks)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(events,),
    )
    try:
        pending = {
            executor.submit(
                _run_task, setting, seed, preset, device, return_latents, row, n_rows
            ): (setting, seed, row)
            for setting, seed, row in tasks
        }
        while pending:
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            relay()
            for future in finished:
                task = pending.pop(future)
                finish(task, future.result())
        relay()
    except BaseException:
        # the executor has no public way to stop busy workers, and
        # shutdown(wait=False) forgets them (Python 3.11 sets _processes to
        # None), so take them first
        workers = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()  # stop runs still training, keep finished ones
        for process in workers:
            process.join(timeout=10)
        raise
    executor.shutdown()
