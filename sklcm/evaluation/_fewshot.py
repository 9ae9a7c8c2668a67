"""Few-shot linear-probe protocol on real features (no printing, no file I/O)."""
# License: BSD 3 clause

import time
from collections.abc import Mapping
from functools import partial
from numbers import Integral

import numpy as np
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, column_or_1d

from sklcm import CoupledLatentICA
from sklcm.model_selection import FewShotGridSearchCV, FewShotSplit

BASE_METHODS = ("raw", "pca", "whiten", "ica", "pca+ica")
PAIR_METHODS = ("cca", "encoder", "encoder+whiten", "encoder+ica")
SELECT_TEMPERATURES = (0.2, 0.5, 1.0, 2.0)
_C_GRID = np.logspace(-4, 4, 9)
PROTOCOLS = ("default", "paper")
# the paper's C search: this grid in this order, then bisection rounds in log10
PAPER_C_GRID = (1e6, 1e4, 1e2, 1.0, 1e-2, 1e-4, 1e-6)
PAPER_BISECTIONS = 8
PAPER_MAX_VAL_SHOTS = 5
# methods whose ICA (with what precedes it) the paper fits on each draw's shots
_ICA_METHODS = ("ica", "pca+ica", "encoder+ica")


def _pair_views(pair):
    """``pair`` as ``{name: array-like}``: ``{"pair": pair}`` for one view,
    ``{"pair[0]": ..., "pair[1]": ...}`` for a list of several (each 2-D)."""
    if pair is None:
        return {}
    several = isinstance(pair, (list, tuple)) and len(pair) > 0
    if several and all(np.ndim(p) == 2 for p in pair):
        if len(pair) == 1:
            return {"pair": pair[0]}
        return {f"pair[{i}]": p for i, p in enumerate(pair)}
    return {"pair": pair}


def _check_features(features, y, pair):
    """Validate the arrays; messages name the parameter at fault.

    Returns the features, the labels and the paired views, ``{name:
    array}`` (empty without ``pair``).
    """
    arrays = {}
    for name, value in (("features", features), *_pair_views(pair).items()):
        value = np.asarray(value)
        if value.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_features), got shape {value.shape}."
            )
        arrays[name] = check_array(value, dtype=np.float64, input_name=name)
    y = column_or_1d(np.asarray(y), warn=False)
    for name, value in arrays.items():
        if len(value) != len(y):
            raise ValueError(
                f"{name} has {len(value)} rows but the labels have {len(y)}; "
                "row i of both must be the same sample."
            )
    features = arrays.pop("features")
    return features, y, arrays


def _encoder_layout(widths):
    """``split`` (and ``subsets``) of the encoder over ``[features | pairs]``.

    One paired view: the two-view model (an int ``split``). Several: one
    tower per view and one content block per pair (features, pair view j),
    so that every block trains the features' tower; a pair of two paired
    views would only train their own towers, never the probed one.
    """
    if len(widths) == 2:
        return {"split": widths[0]}
    return {"split": list(widths), "subsets": [(0, j) for j in range(1, len(widths))]}


def _encoder(params, widths, n_components, temperature, random_state):
    from sklcm import MultimodalContrastiveEncoder

    # encoder_params may replace the layout's subsets (e.g. "pairs")
    params = {"n_components": n_components, **_encoder_layout(widths), **(params or {})}
    params["temperature"] = temperature
    return MultimodalContrastiveEncoder(random_state=random_state, **params)


def _select_temperature(XT, widths, n_components, params, temperatures, seed):
    """The encoder of the temperature chosen without labels, and the table.

    :class:`~sklcm.MultimodalContrastiveEncoderCV` with its defaults (3-fold
    shuffled cross-validation of the pairs of ``XT``, each candidate scored
    by the encoder's label-free :meth:`~sklcm.MultimodalContrastiveEncoder.score`
    on the held-out fold, rule ``"next"``), refitted on all of ``XT``.
    """
    from sklcm import MultimodalContrastiveEncoderCV

    template = _encoder(params, widths, n_components, 1.0, seed)  # replaced
    search = MultimodalContrastiveEncoderCV(template, temperatures=temperatures)
    search.fit(XT)
    means = search.scores_.mean(axis=1)
    scores = {tau: float(m) for tau, m in zip(temperatures, means)}
    return search.best_estimator_, search.temperature_, scores


_SOURCE = ""  # key of the probed view among the arrays transformed; targets are named


def _steps(method, n_components, n_features, seed, rank=None):
    """The unsupervised steps of ``method`` after its input (fresh, unfitted).

    ``rank``, when the steps are fitted on a draw's few rows (the paper
    protocol), caps the sizes at the rank of those rows.
    """
    cap = n_features if rank is None else max(1, min(n_features, rank))
    k = min(n_components, cap)
    whiten = [PCA(k, whiten=True, random_state=seed)]
    ica = [CoupledLatentICA(k, random_state=seed)]
    return {
        "raw": [],
        "encoder": [],
        "cca": [],
        "pca": [PCA(k, random_state=seed)],
        "whiten": whiten,
        "encoder+whiten": whiten,
        "ica": ica,
        "encoder+ica": ica,
        "pca+ica": [PCA(min(2 * k, cap), random_state=seed), *ica],
    }[method]


def _fit_transform(steps, inputs, fit_rows):
    """Standardise then ``steps``, fitted on the ``fit_rows`` of the source
    only; every array of ``inputs`` (the source and the targets) transformed."""
    model = make_pipeline(StandardScaler(), *steps).fit(inputs[_SOURCE][fit_rows])
    return {name: model.transform(X) for name, X in inputs.items()}


def _cca_scores(views, pairs, fit_rows, k):
    """x-view scores of a k-component CCA fitted on standardised pool pairs
    (several paired views: side by side, as one)."""
    features, pair = views[_SOURCE], np.hstack(pairs)
    k = min(k, features.shape[1], pair.shape[1])
    sx = StandardScaler().fit(features[fit_rows])
    st = StandardScaler().fit(pair[fit_rows])
    cca = CCA(k, max_iter=1000).fit(
        sx.transform(features[fit_rows]), st.transform(pair[fit_rows])
    )
    return {name: cca.transform(sx.transform(X)) for name, X in views.items()}


def _encoder_features(views, pairs, fit_rows, options):
    """The features tower's representation of each x-view array (with
    several paired views, its content blocks with each of them), and what
    was chosen."""
    features = views[_SOURCE]
    k, seed = options["n_components"], options["random_state"]
    XT = np.hstack([features, *pairs])
    widths = [features.shape[1]] + [p.shape[1] for p in pairs]
    info, tau = {}, options["temperature"]
    if tau == "select":
        enc, tau, scores = _select_temperature(
            XT[fit_rows], widths, k, options["encoder_params"],
            options["temperatures"], seed,
        )  # fmt: skip
        info["knn_agreement"] = scores
    else:
        enc = _encoder(options["encoder_params"], widths, k, tau, seed)
        enc.fit(XT[fit_rows])
    info.update(temperature=tau, n_steps=enc.n_steps_)
    tower = "x"
    if len(widths) > 2:
        info["n_views"], tower = len(widths), 0
    Z = {name: enc.encode(X, tower).astype(np.float64) for name, X in views.items()}
    return Z, info


def _representations(views, pairs, fit_rows, methods, options):
    """Per method: its representation of each array of ``views``, the fit time,
    what was chosen, and the steps left to fit on each draw (or None).

    Every step is fitted on the ``fit_rows`` of the source (``views[""]``)
    only; the targets are only transformed. Under the paper protocol, the
    ICA methods' standardisation, PCA and ICA are left for each draw's
    shots (``late(rank=...)`` returns them, unfitted, sized for those rows).
    """
    k, seed = options["n_components"], options["random_state"]
    per_draw = options["protocol"] == "paper"
    out = {}

    def add(method, inputs, seconds, info):
        start, n_features = time.perf_counter(), inputs[_SOURCE].shape[1]
        late, reps = None, inputs
        if per_draw and method in _ICA_METHODS:
            late = partial(_steps, method, k, n_features, seed)
        else:
            reps = _fit_transform(_steps(method, k, n_features, seed), inputs, fit_rows)
        out[method] = (reps, seconds + time.perf_counter() - start, info, late)

    for method in (m for m in methods if m in BASE_METHODS):
        add(method, views, 0.0, {})
    if "cca" in methods:
        start = time.perf_counter()
        scores = _cca_scores(views, pairs, fit_rows, k)
        add("cca", scores, time.perf_counter() - start, {})
    if not any(m.startswith("encoder") for m in methods):
        return out
    start = time.perf_counter()
    Z, info = _encoder_features(views, pairs, fit_rows, options)
    seconds = time.perf_counter() - start
    for method in (m for m in PAIR_METHODS if m.startswith("encoder")):
        if method in methods:
            add(method, Z, seconds, info)
    return out


def _check_methods(methods, pairs):
    allowed = BASE_METHODS + (PAIR_METHODS if pairs else ())
    if methods is None:
        return list(allowed)
    for m in methods:
        if m in PAIR_METHODS and not pairs:
            raise ValueError(f"method {m!r} needs the paired array: pass pair=...")
        if m not in allowed:
            raise ValueError(f"unknown method {m!r}; choose from {list(allowed)}.")
    return list(methods)


def _check_shots(shots, y):
    shots = [shots] if isinstance(shots, Integral) else list(shots)
    if not shots or any(
        isinstance(k, bool) or not isinstance(k, Integral) or k < 1 for k in shots
    ):
        plain = [k.item() if isinstance(k, np.generic) else k for k in shots]
        raise ValueError(f"shots must be positive ints, got {plain!r}.")
    return [int(k) for k in shots]


def _plain_list(values):
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _check_target(name, value, features, classes):
    """One target ``(X, y)``, validated against the source; messages name it."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"target names must be non-empty strings, got {name!r}.")
    try:
        X, y = value
    except (TypeError, ValueError):
        raise ValueError(
            f"target {name!r} must be a pair (X, y), got {type(value).__name__}."
        ) from None
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != features.shape[1]:
        raise ValueError(
            f"target {name!r}: X must have the {features.shape[1]} columns of "
            f"features (the same view), got shape {X.shape}."
        )
    try:
        X = check_array(X, dtype=np.float64, input_name=f"target {name!r} X")
        y = column_or_1d(np.asarray(y), warn=False)
    except ValueError as exc:
        raise ValueError(f"target {name!r}: {exc}") from None
    if len(X) != len(y):
        raise ValueError(
            f"target {name!r}: X has {len(X)} rows but y has {len(y)} labels; "
            "row i of both must be the same sample."
        )
    unseen = np.setdiff1d(np.unique(y), classes)
    if unseen.size:
        raise ValueError(
            f"target {name!r}: labels {_plain_list(unseen[:10])} do not occur in "
            "the source labels, so the probe cannot predict them; drop those rows."
        )
    return X, y


def _check_targets(targets, features, y):
    """``{name: (X, y)}`` validated against the source (``{}`` for None)."""
    if targets is None:
        return {}
    if not isinstance(targets, Mapping):
        raise ValueError(
            f"targets must be a dict {{name: (X, y)}}, got {type(targets).__name__}."
        )
    classes = np.unique(y)
    return {
        name: _check_target(name, value, features, classes)
        for name, value in targets.items()
    }


def _check_protocol(protocol):
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}."
        )
    return protocol


def _val_shots(k, n_val_shots, protocol):
    """Validation shots per class at ``k`` shots: the paper's rule unless given."""
    if protocol == "paper" and n_val_shots == 0:
        return min(k, PAPER_MAX_VAL_SHOTS)
    return n_val_shots


def _drop_constant_columns(arrays, fit_rows):
    """Drop the columns of each array that are constant on ``fit_rows``.

    They carry no signal, and ICA and whitening cannot handle them. Returns
    the reduced arrays and, per array, the indices of the dropped columns.
    """
    kept, dropped = {}, {}
    for name, X in arrays.items():
        constant = np.ptp(X[fit_rows], axis=0) == 0
        if constant.all():
            raise ValueError(
                f"every column of {name} is constant on the {len(fit_rows)} rows "
                "the unsupervised steps are fitted on: there is nothing to learn."
            )
        kept[name] = X[:, ~constant] if constant.any() else X
        dropped[name] = np.flatnonzero(constant).tolist()
    return kept, dropped


def _check_encoder_size(methods, pairs, n_components, encoder_params):
    """With several paired views, room for a content block per paired view."""
    if len(pairs) < 2 or not any(m.startswith("encoder") for m in methods):
        return
    if "subsets" in (encoder_params or {}):  # another layout: the encoder checks it
        return
    space = (encoder_params or {}).get("latent_space", "sphere")
    per_block = 2 if space == "sphere" else 1
    if n_components < per_block * len(pairs):
        raise ValueError(
            f"n_components={n_components} is too small for {len(pairs)} paired "
            f"views: the encoder's representation of the features is one content "
            f"block per paired view, of at least {per_block} column"
            f"{'s' * (per_block > 1)} ({space}); set n_components >= "
            f"{per_block * len(pairs)} or pass fewer paired views."
        )


def _check_inputs(
    features, y, *, pair, shots, methods, n_draws, n_val_shots, test_size,
    transductive, random_state, targets=None, protocol="default",
    n_components=None, encoder_params=None,
):  # fmt: skip
    """Validate everything ``fewshot_evaluate`` needs before any fit.

    Raises ValueError naming the parameter (or the target) at fault; returns
    the arrays (constant columns of the fitting rows dropped, from the
    targets too; ``pairs``, the paired views by name), the methods, one
    splitter per shot count, the fitting and test rows and the dropped
    columns.
    """
    features, y, pairs = _check_features(features, y, pair)
    methods, shots = _check_methods(methods, pairs), _check_shots(shots, y)
    if n_components is not None:
        _check_encoder_size(methods, pairs, n_components, encoder_params)
    protocol = _check_protocol(protocol)
    targets = _check_targets(targets, features, y)
    splitters = {
        k: FewShotSplit(k, n_val_shots=_val_shots(k, n_val_shots, protocol),
                        n_draws=n_draws, test_size=test_size,
                        random_state=int(random_state))
        for k in shots
    }  # fmt: skip
    pool, test = splitters[shots[0]].split_pool(features, y)
    for cv in splitters.values():  # fail early on a class smaller than the shots
        next(cv.split(features, y))
    fit_rows = np.arange(len(y)) if transductive else pool
    views, dropped = _drop_constant_columns({"features": features, **pairs}, fit_rows)
    # a target is the same view as the features: the same columns go
    targets = {
        name: (np.delete(X, dropped["features"], axis=1), yt)
        for name, (X, yt) in targets.items()
    }
    return {
        "features": views.pop("features"), "y": y, "pairs": list(views.values()),
        "methods": methods, "splitters": splitters, "fit_rows": fit_rows,
        "test": test, "dropped_columns": dropped, "targets": targets,
        "protocol": protocol,
    }  # fmt: skip


def fewshot_evaluate(
    features,
    y,
    *,
    pair=None,
    shots=(1, 2, 4, 8, 16),
    n_draws=50,
    methods=None,
    n_components=10,
    n_val_shots=0,
    test_size=0.3,
    transductive=False,
    C=1.0,
    temperature="select",
    temperatures=SELECT_TEMPERATURES,
    encoder_params=None,
    targets=None,
    protocol="default",
    random_state=0,
    progress=None,
):
    """Few-shot linear-probe accuracy of unsupervised representations.

    A fixed, stratified test set (``test_size``) is held out once; every
    unsupervised step (standardisation, PCA, whitening, ICA, the contrastive
    encoder) is fitted on the remaining rows, the unlabelled *pool*, or on
    all rows when ``transductive=True``. Columns of ``features`` or ``pair``
    that are constant on those rows carry no signal and are dropped for
    every method (ICA and whitening cannot handle them); the rows say which.
    For each shot count ``k``, ``n_draws`` random draws of ``k`` labelled
    rows per class from the pool train an L2 logistic-regression probe,
    scored on the test set and, unchanged, on each shifted target (rows of
    the same view from another distribution, e.g. another population or
    domain: the fitted steps only transform them). All methods see the same
    draws.

    Read more in the :ref:`User Guide <realdata>`.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        The view the probe sees (e.g. image embeddings).
    y : array-like of shape (n_samples,)
        Class labels.
    pair : array-like of shape (n_samples, n_pair_features) or list of \
            array-like, default=None
        A second view of the same samples (e.g. text embeddings); enables the
        contrastive encoder methods, trained on ``[features | pair]``. A list
        of several 2-D arrays gives several views of the same samples (e.g.
        captions and audio): the encoder is then one K-view
        :class:`~sklcm.MultimodalContrastiveEncoder` (a list ``split``, one
        tower per view) trained on ``[features | pair[0] | pair[1] | ...]``
        with one content block per paired view (``subsets=[(0, 1), (0, 2),
        ...]``, ``n_components`` shared equally between them), and the
        representation probed is the features' tower, its blocks side by
        side (``n_components`` columns; ``subsets`` in ``encoder_params``
        replaces that layout). "cca" then pairs the features with the paired
        views side by side.
    shots : int or sequence of int, default=(1, 2, 4, 8, 16)
        Labelled samples per class.
    n_draws : int, default=50
        Random draws per shot count.
    methods : list of str, default=None
        Among "raw" (standardised features), "pca", "whiten" (PCA whitening,
        the ablation of the ICA rows), "ica", "pca+ica" (PCA to
        ``2 * n_components`` then ICA) and, with ``pair``, "cca" (the
        features' scores of a CCA with the pair), "encoder" (the x tower of
        a :class:`~sklcm.MultimodalContrastiveEncoder` trained on
        ``[features | pair]``, or on every view with several), "encoder+whiten"
        and "encoder+ica". None runs
        all available.
    n_components : int, default=10
        Size of the reduced representations.
    n_val_shots : int, default=0
        If positive, the probe's ``C`` is chosen among 1e-4 ... 1e4 on that
        many extra labelled samples per class (highest validation accuracy,
        ties broken by the validation log-loss, see
        :class:`~sklcm.model_selection.FewShotGridSearchCV`), then the probe
        is trained on the ``k`` shots only; otherwise ``C`` is used. With
        ``protocol="paper"``, 0 means the paper's rule, ``min(k, 5)``
        validation shots at ``k`` shots, and a positive value replaces it.
    test_size : float or int, default=0.3
        Size of the fixed test set (fraction or count).
    transductive : bool, default=False
        Fit the unsupervised steps on all rows, test rows included.
    C : float, default=1.0
        Inverse regularisation strength of the probe when ``n_val_shots=0``.
    temperature : float or "select", default="select"
        Encoder temperature. "select" picks one of ``temperatures`` without
        labels with :class:`~sklcm.MultimodalContrastiveEncoderCV` and its
        defaults, on the fitting rows only: each candidate is trained on two
        thirds of those pairs and scored by
        :meth:`~sklcm.MultimodalContrastiveEncoder.score` (its towers'
        agreement on the 10 nearest neighbours) on the other third, three
        times (shuffled 3-fold), and the rule ``"next"`` (the next larger
        temperature after the best mean score, unless it scores more than
        40 % lower) chooses; the encoder refitted on all the fitting rows
        at that temperature is the one probed. The info reports the mean
        held-out score of each candidate (``"knn_agreement"``).
    temperatures : sequence of float, default=(0.2, 0.5, 1.0, 2.0)
        Candidates for ``temperature="select"``.
    encoder_params : dict, default=None
        Extra :class:`~sklcm.MultimodalContrastiveEncoder` parameters.
    targets : dict, default=None
        Shifted targets, ``{name: (X, y)}``: ``X`` has the columns of
        ``features`` (the same view, from another distribution) and ``y``
        only labels that occur in ``y``. Nothing is fitted on them: each
        method's fitted steps transform them (an encoder's x tower, as for
        ``features``), constant columns dropped for ``features`` are dropped
        from them, and every draw's probe scores them as it scores the test
        rows. Checked before anything is fitted (a ValueError names the
        target).
    protocol : {"default", "paper"}, default="default"
        "default": as above. "paper": the probe protocol of Liu et al. (their
        public scripts): ``min(k, 5)`` validation shots per class (unless
        ``n_val_shots`` is given); C chosen on them among 1e6, 1e4, ...,
        1e-6 (the first best in that order), then 8 rounds of bisection in
        log10(C) on ``[c_peak / 10, 10 * c_peak]``, keeping the better
        endpoint (the lower on a tie); the probe of the last round, trained
        on the ``k`` shots, is scored. The ICA of "ica", "pca+ica" and
        "encoder+ica" (with the standardisation and PCA before it) is fitted
        on each draw's train + validation rows only, with at most as many
        components as those rows' rank and without the columns that are
        constant on those few rows (they carry no signal there; the columns
        constant on the pool are dropped and reported as for "default");
        every other step is fitted as in "default". ``C`` is ignored.
    random_state : int, default=0
        Seeds the test set, the draws and every fitted model.
    progress : callable, default=None
        Called as ``progress(method, seconds)`` after each method.

    Returns
    -------
    rows : list of dict
        One per (method, shot count): ``method``, ``shots``, ``mean`` and
        ``std`` (accuracy in %), ``scores`` (per draw), ``n_draws``,
        ``fit_seconds`` (unsupervised fit), ``transductive``, ``info``
        (e.g. the encoder's temperature and steps, and ``n_views`` with
        several paired views), ``n_fit`` (rows the unsupervised
        steps were fitted on), ``n_test``, ``protocol``, ``n_val_shots``,
        ``C`` (None when chosen on validation shots), ``chosen_C`` (the C of
        each draw's probe, or None when fixed) and ``dropped_columns`` (per
        view, ``"features"`` and ``"pair"``, or ``"pair[0]"``, ``"pair[1]"``,
        ... with several paired views, the indices of the columns dropped as
        constant). With ``targets``, also ``targets`` (per name:
        ``mean``, ``std`` and ``scores`` on that target), ``targets_mean``
        (the same for the per-draw mean over targets) and ``n_target`` (rows
        per target).

    Examples
    --------
    >>> import numpy as np
    >>> from sklcm.evaluation import fewshot_evaluate
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(3), 40)
    >>> X = y[:, None] + 0.3 * rng.normal(size=(120, 5))
    >>> rows = fewshot_evaluate(X, y, shots=[1, 5], n_draws=5, methods=["raw", "pca"])
    >>> [(r["method"], r["shots"], r["mean"] > 80) for r in rows]
    [('raw', 1, True), ('raw', 5, True), ('pca', 1, True), ('pca', 5, True)]

    A shifted target, scored by the same probes:

    >>> X_shift = y[:, None] + 0.3 * rng.normal(size=(120, 5)) + 0.5
    >>> rows = fewshot_evaluate(
    ...     X, y, shots=[5], n_draws=5, methods=["raw"],
    ...     targets={"shifted": (X_shift, y)}, protocol="paper")
    >>> sorted(rows[0]["targets"]), rows[0]["protocol"], rows[0]["n_val_shots"]
    (['shifted'], 'paper', 5)
    """
    checked = _check_inputs(
        features, y, pair=pair, shots=shots, methods=methods, n_draws=n_draws,
        n_val_shots=n_val_shots, test_size=test_size, transductive=transductive,
        random_state=random_state, targets=targets, protocol=protocol,
        n_components=n_components, encoder_params=encoder_params,
    )  # fmt: skip
    y, fit_rows, targets = checked["y"], checked["fit_rows"], checked["targets"]
    options = {
        "n_components": n_components,
        "random_state": int(random_state),
        "temperature": temperature,
        "temperatures": temperatures,
        "encoder_params": encoder_params,
        "protocol": checked["protocol"],
    }
    views = {_SOURCE: checked["features"]}
    views.update((name, X) for name, (X, _) in targets.items())
    reps = _representations(
        views, checked["pairs"], fit_rows, checked["methods"], options
    )
    labels = {name: yt for name, (_, yt) in targets.items()}
    rows = []
    for method in checked["methods"]:
        Z, seconds, info, late = reps[method]
        for k, cv in checked["splitters"].items():
            scores, chosen = _probe_scores(Z, late, y, labels, cv, C, protocol)
            rows.append(
                {"method": method, "shots": k, **_summary(scores[_SOURCE]),
                 "n_draws": n_draws, "fit_seconds": seconds,
                 "transductive": bool(transductive), "info": info,
                 "n_fit": len(fit_rows), "n_test": len(checked["test"]),
                 "protocol": protocol, "n_val_shots": cv.n_val_shots,
                 "C": None if cv.n_val_shots else C, "chosen_C": chosen,
                 "dropped_columns": checked["dropped_columns"],
                 **_target_summaries(scores, labels)}
            )  # fmt: skip
        if progress is not None:
            progress(method, seconds)
    return rows


def _summary(scores):
    """Mean and std (in %) of per-draw accuracies, and the accuracies."""
    scores = 100 * np.asarray(scores, dtype=float)
    return {"mean": float(scores.mean()), "std": float(scores.std()),
            "scores": scores.tolist()}  # fmt: skip


def _target_summaries(scores, labels):
    """``targets`` (per target) and ``targets_mean`` (per draw, the mean over
    targets) row entries; none without targets."""
    if not labels:
        return {}
    average = np.mean([scores[name] for name in labels], axis=0)
    return {
        "targets": {name: _summary(scores[name]) for name in labels},
        "targets_mean": _summary(average),
        "n_target": {name: len(yt) for name, yt in labels.items()},
    }


def _validation_accuracy(probe, Z, y):
    """What the paper's C search maximises: accuracy on the validation shots."""
    return probe.score(Z, y)


def _paper_probe(Z_train, y_train, Z_val, y_val):
    """The paper's C search; returns the last round's probe and its C.

    Each C of :data:`PAPER_C_GRID` is trained on the shots and scored on the
    validation shots; the first best (in grid order, as the paper's script)
    is ``c_peak``. Then :data:`PAPER_BISECTIONS` rounds on the interval
    ``[c_peak / 10, 10 * c_peak]`` in log10 space: train at both endpoints,
    keep the better one (the lower on a tie, as the paper's script) and move
    the other to the middle. The probe of the better endpoint of the last
    round is returned: its C is within ``2 / 2**8`` decades of the best C
    when validation accuracy is unimodal in log10(C) and symmetric about its
    peak.
    """

    def fit(log_c):
        probe = LogisticRegression(C=10.0**log_c, max_iter=2000)
        probe.fit(Z_train, y_train)
        return _validation_accuracy(probe, Z_val, y_val), probe

    grid = np.log10(PAPER_C_GRID)
    peak = grid[int(np.argmax([fit(c)[0] for c in grid]))]
    low, high = peak - 1.0, peak + 1.0
    for _ in range(PAPER_BISECTIONS):
        (acc_low, probe_low), (acc_high, probe_high) = fit(low), fit(high)
        middle = (low + high) / 2
        if acc_low < acc_high:
            probe, low = probe_high, middle
        else:
            probe, high = probe_low, middle
    return probe, float(probe.C)


def _fit_probe(Z_train, y_train, cv, C, protocol):
    """The probe of one draw, trained on its ``k`` shots; and its chosen C."""
    if protocol == "paper":
        shots, val = next(cv.validation_split().split(Z_train, y_train))
        return _paper_probe(Z_train[shots], y_train[shots], Z_train[val], y_train[val])
    if cv.n_val_shots:
        search = FewShotGridSearchCV(
            LogisticRegression(max_iter=2000),
            {"C": _C_GRID},
            cv=cv.validation_split(),
        ).fit(Z_train, y_train)
        return search, float(search.best_params_["C"])
    return LogisticRegression(C=C, max_iter=2000).fit(Z_train, y_train), None


def _probe_scores(Z, late, y, labels, cv, C, protocol):
    """Accuracy of each draw's probe on the test rows and on every target.

    ``Z`` maps "" (the source) and each target name to its representation.
    Each split of ``cv`` trains one probe (with validation shots, C is
    chosen on them and the probe is trained on the k shots only, so that
    "k-shot" means k training samples per class); the same fitted probe,
    after the same steps, scores the test rows and each target. ``late``
    (the paper protocol's ICA methods) returns the steps fitted on the
    draw's train + validation rows first. Returns the accuracies per array
    and the C chosen in each draw (None when C is fixed).
    """
    X = Z[_SOURCE]
    scores, chosen = {name: [] for name in Z}, []
    for train, test in cv.split(X, y):
        transform = _identity if late is None else _late_steps(late, X[train])
        probe, c = _fit_probe(transform(X[train]), y[train], cv, C, protocol)
        chosen.append(c)
        scores[_SOURCE].append(probe.score(transform(X[test]), y[test]))
        for name, y_target in labels.items():
            scores[name].append(probe.score(transform(Z[name]), y_target))
    return scores, None if chosen[0] is None else chosen


def _identity(X):
    return X


def _late_steps(late, X_train):
    """The paper protocol's steps fitted on one draw's train + validation
    rows, as a transform; columns constant on those few rows (not on the
    pool) carry no signal there and are left out, as the pool's are."""
    varying = np.ptp(X_train, axis=0) > 0
    X_fit = X_train[:, varying]
    fitted = make_pipeline(StandardScaler(), *late(rank=_rank(X_fit))).fit(X_fit)
    return lambda X: fitted.transform(X[:, varying])


def _rank(X):
    """Numerical rank of the standardised, centred rows ``X`` (that of their
    covariance, as :class:`~sklcm.CoupledLatentICA` counts it)."""
    std = X.std(axis=0)
    Xs = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    eigvals = np.linalg.svd(Xs, compute_uv=False) ** 2
    tol = max(X.shape) * np.finfo(np.float64).eps
    return int(np.sum(eigvals > eigvals[0] * tol)) if eigvals[0] > 0 else 0
