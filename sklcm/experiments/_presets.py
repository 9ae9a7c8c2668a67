"""Settings (rows of the synthetic table) and presets (training recipes), as data."""
# License: BSD 3 clause

from dataclasses import dataclass, field

# Published numbers (%, mean ± std over seeds) of Liu et al., arXiv:2402.06223.
# The paper reports only the range over its assumption-violation rows, not a
# per-row mapping, so those rows show the range.
_PAPER_SPHERE = "99.5 ± 0.1"
_PAPER_BOX = "99.1 ± 0.1"
_PAPER_SPHERE_VIOLATIONS = "88.5–96.3 (range)"
_PAPER_BOX_VIOLATIONS = "95.6–98.6 (range)"


@dataclass(frozen=True)
class Setting:
    """One row of the table: a generative process and the model fitted to it.

    Parameters
    ----------
    name : str
        Identifier used on the command line (``--settings``).
    group : {"theorem", "violation", "corollary", "extra"}
        Kind of row. Every row is trained for the step budget of its
        encoder geometry's theorem row (see :class:`Preset`).
    process : str
        Short description of the generative process.
    data : dict
        Keyword arguments of :class:`~sklcm.datasets.LatentPartialCausalSampler`
        besides ``n_latents`` and ``random_state``.
    encoder : dict, default={}
        Keyword arguments of :class:`~sklcm.MultimodalContrastiveEncoder` that
        override the preset's recipe (e.g. ``temperature``).
    latent_space : {"sphere", "box", "real"}, default="sphere"
        Geometry of the encoder (``"real"``: unbounded outputs, see
        :class:`~sklcm.MultimodalContrastiveEncoder`).
    metric : {"r2", "mcc"}, default="r2"
        Headline metric: held-out linear R² or MCC against the true z_x.
    feature_ratio : tuple of (float, float), default=None
        Observed dimensions as multiples of ``n_latents + n_specific``
        (rounded up); None keeps them equal to that.
    component_ratio : float, default=1.0
        Encoder output size as a multiple of ``n_latents`` (rounded up).
    ica : bool, default=False
        Also fit :class:`~sklcm.CoupledLatentICA` on the encoder output and
        report the MCC after it.
    paper : str, default=None
        Published number (%), or None when the paper has no such row.
    match_noise : bool, default=False
        Choose the conditional's ``concentration`` so that its relative noise
        level -- the per-coordinate standard deviation of ``z_t - z_x``
        divided by that of ``z_x`` -- equals the one of the theorem row of the
        same encoder geometry; the row then changes one assumption (the
        family or the support), not the noise level as well.
    noise_reference : str, default=None
        Name of the row whose relative noise level ``match_noise`` matches;
        None takes the theorem row of the encoder geometry ("sphere-vmf" for
        the sphere, "box-laplace" for the box and the real geometry).
    n_latents : int, default=None
        Dimension of the coupled latents of this row; None takes the
        preset's ``n_latents``.
    batch_factor : int, default=1
        Pairs per step as a multiple of the preset's ``batch_size`` (more
        negatives per step; the step budget is unchanged, so the row sees
        ``batch_factor`` times the pairs of its theorem row).

    Examples
    --------
    >>> from sklcm.experiments import SETTINGS
    >>> row = SETTINGS[0]
    >>> row.name, row.metric, row.model, row.paper
    ('sphere-vmf', 'r2', 'sphere enc.', '99.5 ± 0.1')
    """

    name: str
    group: str
    process: str
    data: dict
    encoder: dict = field(default_factory=dict)
    latent_space: str = "sphere"
    metric: str = "r2"
    feature_ratio: tuple = None
    component_ratio: float = 1.0
    ica: bool = False
    paper: str = None
    match_noise: bool = False
    noise_reference: str = None
    n_latents: int = None
    batch_factor: int = 1

    @property
    def model(self):
        """Short description of the model, e.g. ``"real enc. (L1)"``.

        The encoder geometry; for the unbounded (real) encoder also its
        similarity, e.g. ``"sphere enc."``, ``"sphere enc. + ICA"``; a
        batch-normalised head or a larger batch on another geometry is named,
        e.g. ``"sphere enc. (BN head, batch ×4)"``.
        """
        extra = " + ICA" if self.ica else ""
        if self.latent_space == "real":  # say which similarity it was fitted with
            extra = f" (L{self.encoder.get('p', 1.0):g}){extra}"
        else:
            notes = ["BN head"] if self.encoder.get("head_batch_norm") is True else []
            if self.batch_factor != 1:
                notes.append(f"batch ×{self.batch_factor}")
            extra = f" ({', '.join(notes)}){extra}" if notes else extra
        return f"{self.latent_space} enc.{extra}"


def _sphere(name, group, process, paper=None, **kwargs):
    data = {"latent_space": "sphere", **kwargs.pop("data", {})}
    return Setting(name, group, process, data, paper=paper, **kwargs)


def _box(name, group, process, paper=None, **kwargs):
    data = {"latent_space": "box", **kwargs.pop("data", {})}
    return Setting(
        name,
        group,
        process,
        data,
        latent_space="box",
        metric="mcc",
        paper=paper,
        **kwargs,
    )


def _real(name, group, process, paper=None, metric="mcc", **kwargs):
    """A row of unbounded latents, fitted by the unbounded (real) encoder."""
    return Setting(
        name,
        group,
        process,
        kwargs.pop("data"),
        latent_space="real",
        metric=metric,
        paper=paper,
        **kwargs,
    )


_VMF = {"marginal": "uniform", "conditional": "vmf"}
# Encoders of the unbounded rows (benchmarks/results/study_real.txt, seed 0):
# batch-normalised unbounded outputs, τ learned from 0.5; real-laplace with
# L1 (MCC 0.987; 0.919 without the batch norm), real-normal with the
# rotation-invariant L2 (R² 0.992; L1 0.991).
_REAL_LAPLACE_ENCODER = {"p": 1.0, "head_batch_norm": True}
_REAL_NORMAL_ENCODER = {"p": 2.0, "head_batch_norm": True}
# Rows with modality-specific latents (benchmarks/results/study_specific.txt,
# quick recipe otherwise, seed 0): a batch-normalised head and 4× the pairs
# per step, the two levers of the search that helped. At 8k steps specific-5
# R² 0.621 → 0.757 (BN head), 0.872 (batch 1024), 0.938 (both); at the
# row's 15k steps 0.760 → 0.992 (seed 1: 0.9924; bench_convergence_specific.txt) and
# specific-10 0.851 (≥ 0.95 not reached). Width, lr, τ, learned τ, layer norm
# did not help; unwhitened inputs hurt. Costs about 7× the time per step.
_SPECIFIC_RECIPE = {"encoder": {"head_batch_norm": True}, "batch_factor": 4}

SETTINGS = (
    _sphere("sphere-vmf", "theorem", "sphere U / vMF(κ=10)", _PAPER_SPHERE, data=_VMF),
    _box(
        "box-laplace",
        "theorem",
        "box U / Laplace",
        _PAPER_BOX,
        data={"marginal": "uniform", "conditional": "laplace"},
    ),
    _sphere(
        "sphere-laplace",
        "violation",
        "sphere U / Laplace",
        _PAPER_SPHERE_VIOLATIONS,
        data={"conditional": "laplace"},
        match_noise=True,
    ),
    _sphere(
        "sphere-normal",
        "violation",
        "sphere U / Normal",
        _PAPER_SPHERE_VIOLATIONS,
        data={"conditional": "normal"},
        match_noise=True,
    ),
    _real(
        "real-normal",
        "violation",
        "unbounded N / N",
        _PAPER_SPHERE_VIOLATIONS,
        data={"latent_space": "real", "marginal": "normal", "conditional": "normal"},
        metric="r2",
        encoder=_REAL_NORMAL_ENCODER,
        match_noise=True,
        noise_reference="sphere-vmf",
    ),
    _box(
        "box-gennorm",
        "violation",
        "box U / GenNorm(β=3)",
        _PAPER_BOX_VIOLATIONS,
        data={"conditional": "gennorm", "beta": 3.0},
        match_noise=True,
    ),
    _real(
        "real-laplace",
        "violation",
        "unbounded Laplace / Laplace",
        _PAPER_BOX_VIOLATIONS,
        data={"latent_space": "real", "marginal": "laplace", "conditional": "laplace"},
        encoder=_REAL_LAPLACE_ENCODER,
        match_noise=True,
        noise_reference="box-laplace",
    ),
    _sphere(
        "ica-uniform",
        "corollary",
        "indep. uniform (box) / Laplace",
        metric="mcc",
        ica=True,
        data={"latent_space": "box", "marginal": "uniform", "conditional": "laplace"},
    ),
    _sphere(
        "ica-laplace",
        "extra",
        "indep. Laplace / Laplace, unbounded",
        metric="mcc",
        ica=True,
        data={"latent_space": "real", "marginal": "laplace", "conditional": "laplace"},
    ),
    *(
        _sphere(
            f"specific-{k}",
            "extra",
            f"sphere vMF, k_x = k_t = {k}",
            data={**_VMF, "n_specific": k},
            **(_SPECIFIC_RECIPE if k else {}),
        )
        for k in (0, 5, 10)
    ),
    _sphere(
        "unequal-dims",
        "extra",
        "sphere vMF, d_x = 1.5n, d_t = 3n",
        data=_VMF,
        feature_ratio=(1.5, 3.0),
    ),
    _sphere(
        "wide-encoder",
        "extra",
        "sphere vMF, encoder dim 1.5n",
        data=_VMF,
        component_ratio=1.5,
    ),
    _sphere("kappa-2", "extra", "sphere vMF(κ=2)", data={**_VMF, "concentration": 2.0}),
    # the loss matched to the conditional: τ = 1/κ
    _sphere(
        "kappa-2-matched",
        "extra",
        "sphere vMF(κ=2), τ = 1/κ = 0.5",
        data={**_VMF, "concentration": 2.0},
        encoder={"temperature": 0.5},
    ),
    _sphere(
        "kappa-50", "extra", "sphere vMF(κ=50)", data={**_VMF, "concentration": 50.0}
    ),
    # n_latents = 2: the latent circle, mapped to the output circle; the
    # encoder's circle defaults (head batch norm, τ 0.5; study_circle.txt)
    _sphere(
        "circle",
        "extra",
        "sphere vMF(κ=10), n = 2 (circle), τ = 0.5",
        data=_VMF,
        encoder={"temperature": 0.5},
        n_latents=2,
    ),
    *(
        _sphere(
            f"tau-{t:g}",
            "extra",
            f"sphere vMF(κ=10), τ = {t:g}",
            data=_VMF,
            encoder={"temperature": t},
        )
        for t in (0.1, 1.0)
    ),
    _box(
        "box-tau-0.2",
        "extra",
        "box U / Laplace, fixed τ = 0.2",
        data={"marginal": "uniform", "conditional": "laplace"},
        encoder={"temperature": 0.2, "learn_temperature": False},
    ),
)
"""All rows of the table, in display order."""

GROUPS = ("theorem", "violation", "corollary", "extra")


@dataclass(frozen=True)
class Preset:
    """A training and evaluation recipe shared by all rows.

    Parameters
    ----------
    name : str
        Identifier used on the command line (``--preset``).
    description : str
        One line shown by ``--help``.
    n_latents : int
        Dimension n of the coupled latents.
    n_seeds : int
        Default number of seeds per row.
    sphere_steps : int
        Optimiser steps (the cosine schedule length) of every row with a
        sphere encoder: the budget of the sphere theorem row.
    box_steps : int
        Optimiser steps of every row with a box or real (unbounded) encoder:
        the budget of the box theorem row.
    batch_size : int
        Pairs per step.
    hidden_layer_sizes : tuple of int
        Hidden widths of each encoder tower.
    lr : float
        Peak learning rate (Adam, 2% warmup then cosine decay).
    temperature : float
        InfoNCE temperature of sphere encoders (rows may override it).
    box_temperature : float
        InfoNCE temperature of box encoders (its initial value when
        ``learn_box_temperature``; rows may override it).
    learn_box_temperature : bool
        Train the temperature of box encoders with the towers
        (``learn_temperature=True``). On the box theorem row (128×3 towers,
        lr 3e-3, 25k steps, sigmoid head) this lifted the held-out MCC from
        0.889 to 0.966 (``benchmarks/bench_convergence.py``).
    box_squash : {"sigmoid", "softclamp"}
        Squashing function of box encoders' heads (the encoder's
        ``box_squash``).
    whiten_inputs : bool
        Whiten each encoder tower's input (the encoder's ``whiten_inputs``).
    ema_decay : float or None
        Decay of the encoder's weight average (its ``ema_decay``); the table
        scores the averaged weights.
    chunk_steps : int
        Steps per fresh chunk of pairs passed to ``partial_fit``.
    n_test : int
        Held-out pairs on which the metrics are computed.
    n_baseline : int
        Fresh pairs used to fit the linear baselines and the ICA.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from sklcm.experiments import PRESETS
    >>> quick = PRESETS["quick"]
    >>> quick.n_latents, quick.batch_size
    (10, 256)
    >>> replace(quick, name="short", sphere_steps=1000).sphere_steps
    1000
    """

    name: str
    description: str
    n_latents: int
    n_seeds: int
    sphere_steps: int
    box_steps: int
    batch_size: int = 256
    hidden_layer_sizes: tuple = (128, 128, 128)
    lr: float = 3e-3
    temperature: float = 0.2
    box_temperature: float = 0.5
    learn_box_temperature: bool = False
    box_squash: str = "sigmoid"
    whiten_inputs: bool = False
    ema_decay: float = None
    chunk_steps: int = 50
    n_test: int = 10_000
    n_baseline: int = 10_000


PRESETS = {
    "quick": Preset(
        "quick",
        "n=10, 1 seed, every row trained for its geometry's theorem budget "
        "(15k steps sphere, 25k box and real; 355k steps per seed) and again "
        "with half of it for the convergence mark; the rows with specific "
        "latents at batch 1024 (about 7× the time per step): about 27 min per "
        "seed on an idle 2-core CPU with --n-jobs 2 (default; estimated)",
        n_latents=10,
        n_seeds=1,
        sphere_steps=15_000,
        box_steps=25_000,
        lr=5e-3,
        learn_box_temperature=True,
        box_squash="softclamp",
        whiten_inputs=True,
        ema_decay=0.999,
    ),
    "paper": Preset(
        "paper",
        "n=10, 3 seeds, 256-wide encoder, batch 512, 40k steps for every row "
        "(hours on a CPU)",
        n_latents=10,
        n_seeds=3,
        sphere_steps=40_000,
        box_steps=40_000,
        batch_size=512,
        hidden_layer_sizes=(256, 256, 256),
        lr=2e-3,
    ),
    "smoke": Preset(
        "smoke",
        "n=3, tiny encoder, a few seconds; checks the pipeline only",
        n_latents=3,
        n_seeds=1,
        sphere_steps=20,
        box_steps=20,
        batch_size=64,
        hidden_layer_sizes=(16,),
        chunk_steps=5,
        n_test=400,
        n_baseline=400,
    ),
}
"""Recipes by name; "quick" is the default of ``python -m sklcm reproduce``."""


def select_settings(names=None):
    """Return the settings named in ``names`` (setting or group names), in order.

    Parameters
    ----------
    names : iterable of str, default=None
        Setting names (e.g. ``"sphere-vmf"``), group names (e.g.
        ``"theorem"``) or ``"all"``. None selects every setting.

    Returns
    -------
    settings : list of Setting
        The selected settings in table order, without duplicates.

    Examples
    --------
    >>> from sklcm.experiments import select_settings
    >>> [s.name for s in select_settings(["theorem"])]
    ['sphere-vmf', 'box-laplace']
    """
    if names is None:
        return list(SETTINGS)
    known = {s.name for s in SETTINGS} | set(GROUPS) | {"all"}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(s.name for s in SETTINGS)}, a group "
            f"({', '.join(GROUPS)}) or 'all'."
        )
    wanted = set(names)
    return [
        s for s in SETTINGS if "all" in wanted or s.name in wanted or s.group in wanted
    ]
