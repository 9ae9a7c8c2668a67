"""Run one row of the synthetic table for one seed: sample, train, score."""
# License: BSD 3 clause

import math
import time

import numpy as np

import sklcm
from sklcm.datasets import LatentPartialCausalSampler
from sklcm.metrics import linear_r2_score, mean_corr_coef

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
    """Schedule length of a row: its group's budget times the row's factor."""
    steps = {
        "theorem": preset.theorem_steps,
        "violation": preset.violation_steps,
        "corollary": preset.corollary_steps,
        "extra": preset.other_steps,
    }[setting.group]
    return int(round(steps * setting.budget))


def _make_sampler(setting, n_latents, seed):
    """The setting's generative model, its mixing functions seeded by ``seed``."""
    data = dict(setting.data)
    if setting.feature_ratio is not None:
        k = np.broadcast_to(data.get("n_specific", 0), 2)
        data["n_features"] = tuple(
            math.ceil(r * (n_latents + int(k_m)))
            for r, k_m in zip(setting.feature_ratio, k)
        )
    return LatentPartialCausalSampler(n_latents, random_state=seed, **data)


def _make_encoder(setting, preset, sampler, steps, seed, device):
    params = {
        "n_components": math.ceil(setting.component_ratio * preset.n_latents),
        "split": sampler.split,
        "latent_space": setting.latent_space,
        "temperature": preset.box_temperature
        if setting.latent_space == "box"
        else preset.temperature,
        "hidden_layer_sizes": preset.hidden_layer_sizes,
        "batch_size": preset.batch_size,
        "lr": preset.lr,
        "max_steps": steps,
        "device": device,
        "random_state": seed,
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


def _train(encoder, sampler, steps, chunk_steps, rng, report):
    """Stream fresh chunks through ``partial_fit`` until ``steps`` steps ran."""
    chunk_size = encoder.batch_size * chunk_steps
    start = time.perf_counter()
    for X, _ in sampler.stream(chunk_size, math.ceil(steps / chunk_steps), rng):
        encoder.partial_fit(X)
        report(
            "train",
            step=encoder.n_steps_,
            steps=steps,
            elapsed=time.perf_counter() - start,
        )
    return time.perf_counter() - start


def _encode_both(encoder, sampler, X):
    x, t = _modalities(sampler, X)
    return np.hstack([encoder.encode(x, "x"), encoder.encode(t, "t")])


def _coupled_ica(encoder, sampler, n_latents, fit, test, seed):
    """MCC after CoupledLatentICA fitted on fresh ``[z_x | z_t]`` pairs."""
    ica = sklcm.CoupledLatentICA(
        n_components=n_latents, split=encoder.n_components, random_state=seed
    )
    ica.fit(_encode_both(encoder, sampler, fit[0]))
    S = ica.transform(_encode_both(encoder, sampler, test[0]))[:, :n_latents]
    return mean_corr_coef(test[1], S), S


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
        "n_latents": preset.n_latents,
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
        "batch_size": encoder.batch_size,
        "lr": encoder.lr,
        "steps": encoder.max_steps,
        "pairs_seen": encoder.max_steps * encoder.batch_size,
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
        ``baseline`` with its ``baseline_name``, ``fit_time`` and ``time``
        (seconds).

    Examples
    --------
    >>> from sklcm.experiments import run_setting
    >>> result = run_setting("box-laplace", seed=0, preset="smoke")
    >>> result["metric"], result["steps"], 0 <= result["score"] <= 1
    ('mcc', 50, True)
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
    n = preset.n_latents
    steps = _steps(setting, preset)
    sampler = _make_sampler(setting, n, seed)
    test = sampler.sample(preset.n_test, np.random.default_rng([seed, 1]))
    fit = sampler.sample(preset.n_baseline, np.random.default_rng([seed, 2]))
    baseline_name, baseline = _baseline(setting, sampler, n, fit, test, seed)
    encoder = _make_encoder(setting, preset, sampler, steps, seed, device)
    fit_time = _train(
        encoder,
        sampler,
        steps,
        preset.chunk_steps,
        np.random.default_rng([seed, 3]),
        report,
    )
    Z = encoder.encode(_modalities(sampler, test[0])[0], "x")
    result = _record(setting, preset, sampler, encoder, seed)
    result.update(
        r2=linear_r2_score(test[1], Z, random_state=seed),
        mcc=mean_corr_coef(test[1], Z),
        mcc_ica=float("nan"),
    )
    if setting.ica:
        result["mcc_ica"], Z = _coupled_ica(encoder, sampler, n, fit, test, seed)
    result["score"] = result["mcc_ica"] if setting.ica else result[setting.metric]
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
