"""Few-shot linear-probe protocol on real features (no printing, no file I/O)."""
# License: BSD 3 clause

import time
from numbers import Integral

import numpy as np
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, column_or_1d

from sklcm import CoupledLatentICA
from sklcm.model_selection import FewShotGridSearchCV, FewShotSplit

BASE_METHODS = ("raw", "pca", "whiten", "ica", "pca+ica")
PAIR_METHODS = ("cca", "encoder", "encoder+whiten", "encoder+ica")
SELECT_TEMPERATURES = (0.2, 0.5, 1.0, 2.0)
_C_GRID = np.logspace(-4, 4, 9)


def _check_features(features, y, pair):
    """Validate the arrays; messages name the parameter at fault."""
    arrays = {}
    for name, value in (("features", features), ("pair", pair)):
        if value is None:
            continue
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
    return arrays["features"], y, arrays.get("pair")


def _encoder(params, split, n_components, temperature, random_state):
    from sklcm import MultimodalContrastiveEncoder

    params = {"n_components": n_components, **(params or {})}
    params["temperature"] = temperature
    return MultimodalContrastiveEncoder(
        split=split, random_state=random_state, **params
    )


def _select_temperature(XT, split, n_components, params, temperatures, seed):
    """Temperature whose encoder scores best on held-out pairs, without labels.

    Each candidate is trained on 80 % of the pairs of ``XT`` and scored by
    the encoder's own label-free :meth:`~sklcm.MultimodalContrastiveEncoder.score`
    (cross-view neighbour agreement, with the similarity of its geometry) on
    the other 20 % (at least 20 pairs).
    """
    rng = np.random.default_rng(seed)
    held = rng.permutation(len(XT))[: max(len(XT) // 5, 20)]
    fit = np.setdiff1d(np.arange(len(XT)), held)
    scores = {}
    for tau in temperatures:
        enc = _encoder(params, split, n_components, tau, seed).fit(XT[fit])
        scores[tau] = float(enc.score(XT[held]))
    return max(scores, key=scores.get), scores


def _base_steps(method, n_components, n_features, seed):
    k = min(n_components, n_features)
    return {
        "raw": [],
        "pca": [PCA(k, random_state=seed)],
        "whiten": [PCA(k, whiten=True, random_state=seed)],
        "ica": [CoupledLatentICA(k, random_state=seed)],
        "pca+ica": [
            PCA(min(2 * k, n_features), random_state=seed),
            CoupledLatentICA(k, random_state=seed),
        ],
    }[method]


def _cca_scores(features, pair, fit_rows, k):
    """x-view scores of a k-component CCA fitted on standardised pool pairs."""
    k = min(k, features.shape[1], pair.shape[1])
    sx = StandardScaler().fit(features[fit_rows])
    st = StandardScaler().fit(pair[fit_rows])
    cca = CCA(k, max_iter=1000).fit(
        sx.transform(features[fit_rows]), st.transform(pair[fit_rows])
    )
    return cca.transform(sx.transform(features))


def _encoder_features(features, pair, fit_rows, options):
    """The x tower's representation of every row, and what was chosen."""
    k, seed = options["n_components"], options["random_state"]
    XT, split = np.hstack([features, pair]), features.shape[1]
    info, tau = {}, options["temperature"]
    if tau == "select":
        tau, scores = _select_temperature(
            XT[fit_rows], split, k, options["encoder_params"],
            options["temperatures"], seed,
        )  # fmt: skip
        info["knn_agreement"] = scores
    enc = _encoder(options["encoder_params"], split, k, tau, seed)
    Z = enc.fit(XT[fit_rows]).encode(features, "x").astype(np.float64)
    info.update(temperature=tau, n_steps=enc.n_steps_)
    return Z, info


def _representations(features, pair, fit_rows, methods, options):
    """Each method's features for every row, fitted on ``fit_rows`` only."""
    k, seed = options["n_components"], options["random_state"]
    out = {}
    for method in (m for m in methods if m in BASE_METHODS):
        start = time.perf_counter()
        steps = [StandardScaler(), *_base_steps(method, k, features.shape[1], seed)]
        model = make_pipeline(*steps).fit(features[fit_rows])
        out[method] = (model.transform(features), time.perf_counter() - start, {})
    if "cca" in methods:
        start = time.perf_counter()
        Z = _cca_scores(features, pair, fit_rows, k)
        Z = StandardScaler().fit(Z[fit_rows]).transform(Z)
        out["cca"] = (Z, time.perf_counter() - start, {})
    if not any(m.startswith("encoder") for m in methods):
        return out
    start = time.perf_counter()
    Z, info = _encoder_features(features, pair, fit_rows, options)
    seconds = time.perf_counter() - start
    for method, steps in (
        ("encoder", []),
        ("encoder+whiten", [PCA(k, whiten=True, random_state=seed)]),
        ("encoder+ica", [CoupledLatentICA(k, random_state=seed)]),
    ):
        if method in methods:
            model = make_pipeline(StandardScaler(), *steps).fit(Z[fit_rows])
            out[method] = (model.transform(Z), seconds, info)
    return out


def _check_methods(methods, pair):
    allowed = BASE_METHODS + (PAIR_METHODS if pair is not None else ())
    if methods is None:
        return list(allowed)
    for m in methods:
        if m in PAIR_METHODS and pair is None:
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


def _check_inputs(
    features, y, *, pair, shots, methods, n_draws, n_val_shots, test_size,
    transductive, random_state,
):  # fmt: skip
    """Validate everything ``fewshot_evaluate`` needs before any fit.

    Raises ValueError naming the parameter at fault; returns the arrays
    (constant columns of the fitting rows dropped), the methods, one
    splitter per shot count, the fitting and test rows and the dropped
    columns.
    """
    features, y, pair = _check_features(features, y, pair)
    methods, shots = _check_methods(methods, pair), _check_shots(shots, y)
    splitters = {
        k: FewShotSplit(k, n_val_shots=n_val_shots, n_draws=n_draws,
                        test_size=test_size, random_state=int(random_state))
        for k in shots
    }  # fmt: skip
    pool, test = splitters[shots[0]].split_pool(features, y)
    for cv in splitters.values():  # fail early on a class smaller than the shots
        next(cv.split(features, y))
    fit_rows = np.arange(len(y)) if transductive else pool
    views = {"features": features, "pair": pair}
    views = {name: X for name, X in views.items() if X is not None}
    views, dropped = _drop_constant_columns(views, fit_rows)
    return {
        "features": views["features"], "y": y, "pair": views.get("pair"),
        "methods": methods, "splitters": splitters, "fit_rows": fit_rows,
        "test": test, "dropped_columns": dropped,
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
    scored on the test set. All methods see the same draws.

    Read more in the :ref:`User Guide <realdata>`.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        The view the probe sees (e.g. image embeddings).
    y : array-like of shape (n_samples,)
        Class labels.
    pair : array-like of shape (n_samples, n_pair_features), default=None
        A second view of the same samples (e.g. text embeddings); enables the
        contrastive encoder methods, trained on ``[features | pair]``.
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
        ``[features | pair]``), "encoder+whiten" and "encoder+ica". None runs
        all available.
    n_components : int, default=10
        Size of the reduced representations.
    n_val_shots : int, default=0
        If positive, the probe's ``C`` is chosen among 1e-4 ... 1e4 on that
        many extra labelled samples per class (highest validation accuracy,
        ties broken by the validation log-loss, see
        :class:`~sklcm.model_selection.FewShotGridSearchCV`), then the probe
        is trained on the ``k`` shots only (the protocol of Liu et al.);
        otherwise ``C`` is used.
    test_size : float or int, default=0.3
        Size of the fixed test set (fraction or count).
    transductive : bool, default=False
        Fit the unsupervised steps on all rows, test rows included.
    C : float, default=1.0
        Inverse regularisation strength of the probe when ``n_val_shots=0``.
    temperature : float or "select", default="select"
        Encoder temperature. "select" picks one of ``temperatures`` without
        labels: each is trained on 80 % of the fitting rows and the one with
        the highest :meth:`~sklcm.MultimodalContrastiveEncoder.score` (its
        towers' agreement on the 10 nearest neighbours) on the other 20 % of
        the pairs wins.
    temperatures : sequence of float, default=(0.2, 0.5, 1.0, 2.0)
        Candidates for ``temperature="select"``.
    encoder_params : dict, default=None
        Extra :class:`~sklcm.MultimodalContrastiveEncoder` parameters.
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
        (e.g. the encoder's temperature), ``n_fit`` (rows the unsupervised
        steps were fitted on), ``n_test``, ``n_val_shots``, ``C`` (None
        when chosen on validation shots) and ``dropped_columns`` (per view,
        ``"features"`` and ``"pair"``, the indices of the columns dropped as
        constant).

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
    """
    checked = _check_inputs(
        features, y, pair=pair, shots=shots, methods=methods, n_draws=n_draws,
        n_val_shots=n_val_shots, test_size=test_size, transductive=transductive,
        random_state=random_state,
    )  # fmt: skip
    y, fit_rows = checked["y"], checked["fit_rows"]
    options = {
        "n_components": n_components,
        "random_state": int(random_state),
        "temperature": temperature,
        "temperatures": temperatures,
        "encoder_params": encoder_params,
    }
    reps = _representations(
        checked["features"], checked["pair"], fit_rows, checked["methods"], options
    )
    rows = []
    for method in checked["methods"]:
        Z, seconds, info = reps[method]
        for k, cv in checked["splitters"].items():
            scores = 100 * _probe_scores(Z, y, cv, C)
            rows.append(
                {"method": method, "shots": k, "mean": float(scores.mean()),
                 "std": float(scores.std()), "scores": scores.tolist(),
                 "n_draws": n_draws, "fit_seconds": seconds,
                 "transductive": bool(transductive), "info": info,
                 "n_fit": len(fit_rows), "n_test": len(checked["test"]),
                 "n_val_shots": n_val_shots, "C": None if n_val_shots else C,
                 "dropped_columns": checked["dropped_columns"]}
            )  # fmt: skip
        if progress is not None:
            progress(method, seconds)
    return rows


def _probe_scores(Z, y, cv, C):
    """Test accuracy of the probe on each split of ``cv``.

    With validation shots, C is chosen on them (ties broken by the validation
    log-loss) and the probe is then trained on the k shots only, so that
    "k-shot" means k training samples per class.
    """
    probe = LogisticRegression(C=C, max_iter=2000)
    if cv.n_val_shots:
        probe = FewShotGridSearchCV(
            LogisticRegression(max_iter=2000),
            {"C": _C_GRID},
            cv=cv.validation_split(),
        )
    return cross_validate(probe, Z, y, cv=cv)["test_score"]
