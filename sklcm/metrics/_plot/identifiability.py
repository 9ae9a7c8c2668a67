"""IdentifiabilityDisplay: matched true-vs-recovered scatter plots and |corr| map."""
# License: BSD 3 clause

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_predict

from ...utils._validation import check_latent_pair
from .._identifiability import _abs_corr, _match

_PLOT_HINT = (
    'IdentifiabilityDisplay needs matplotlib: pip install -e ".[plot]" in the '
    "sklcm checkout (or pip install matplotlib)."
)


def _import_pyplot():
    """Import matplotlib.pyplot lazily, with an install hint when missing."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_PLOT_HINT) from exc
    return plt


def _integer_locator(size):
    """Tick every component index, or every few when there are many."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=min(size, 10), integer=True)


def _cross_fitted_alignment(z_true, z_pred):
    """Linear prediction of ``z_true`` from ``z_pred``, fitted out of fold.

    Two shuffled folds with a fixed seed: every row is predicted by a linear
    map fitted on the other half, so the alignment cannot overfit the rows it
    shows (an in-sample fit of many columns scores high even on noise).
    """
    folds = KFold(n_splits=2, shuffle=True, random_state=0)
    return cross_val_predict(LinearRegression(), z_pred, z_true, cv=folds)


class IdentifiabilityDisplay:
    """Visualise how well a representation recovers known latents.

    The display has ``n_pairs`` scatter panels, each plotting one true latent
    component against the recovered component matched to it (Hungarian
    matching on the absolute correlation, as in
    :func:`~sklcm.metrics.mean_corr_coef`), followed by a heat map of the
    absolute correlation between every true and every recovered component. A
    representation that recovers the latents up to permutation and scaling
    shows straight-line scatters and one bright cell per row of the map.

    Use :meth:`from_estimator` or :meth:`from_predictions` to create one; the
    constructor only stores precomputed values. All attributes are set by
    :meth:`plot`.

    Read more in the :ref:`User Guide <metrics>`.

    Parameters
    ----------
    z_true : ndarray of shape (n_samples, n_true)
        Ground-truth latents.
    z_pred : ndarray of shape (n_samples, n_pred)
        Recovered representation (possibly linearly aligned to ``z_true``).
    abs_corr : ndarray of shape (n_true, n_pred)
        Absolute correlation between true and recovered components.
    pairs : tuple of two ndarrays
        Matched ``(true_indices, pred_indices)``.
    score : float, default=None
        Summary shown in the heat map title (e.g. the MCC).
    score_name : str, default="MCC"
        Name of ``score``.
    estimator_name : str, default=None
        Name shown in the figure title.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        The scatter axes followed by the heat map axes, in one flat array.
    scatter_ : list of matplotlib PathCollection
        One scatter artist per matched pair.
    im_ : matplotlib AxesImage
        The heat map of absolute correlations.
    text_ : ndarray of matplotlib Text or None
        Value annotations of the heat map, or None when not annotated.
    figure_ : matplotlib Figure
        Figure holding the axes.

    See Also
    --------
    sklcm.metrics.mean_corr_coef : The matched-correlation score.
    sklcm.metrics.linear_r2_score : Identifiability up to a linear map.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklcm.metrics import IdentifiabilityDisplay
    >>> rng = np.random.default_rng(0)
    >>> z = rng.laplace(size=(300, 3))
    >>> disp = IdentifiabilityDisplay.from_predictions(z, -2 * z[:, [2, 0, 1]])
    >>> len(disp.axes_), round(disp.score, 2)
    (4, 1.0)
    """

    def __init__(
        self,
        *,
        z_true,
        z_pred,
        abs_corr,
        pairs,
        score=None,
        score_name="MCC",
        estimator_name=None,
    ):
        self.z_true = z_true
        self.z_pred = z_pred
        self.abs_corr = abs_corr
        self.pairs = pairs
        self.score = score
        self.score_name = score_name
        self.estimator_name = estimator_name

    def plot(
        self,
        ax=None,
        *,
        n_pairs=4,
        n_cols=None,
        max_points=2000,
        annotate="auto",
        scatter_kwargs=None,
        imshow_kwargs=None,
    ):
        """Draw the matched-pair scatters and the absolute-correlation heat map.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            None creates a new figure. A single Axes is divided into a grid of
            panels; an array-like must hold ``n_pairs + 1`` Axes (the scatter
            panels, then the heat map).
        n_pairs : int, default=4
            Number of matched pairs plotted (at most the number of pairs),
            in the order of the true components.
        n_cols : int, default=None
            Panels per row of the grid; None puts all panels on one row.
        max_points : int, default=2000
            At most this many evenly spaced samples are scattered.
        annotate : bool or "auto", default="auto"
            Write the values in the heat map cells; "auto" does so when the
            map has at most 36 cells (6 x 6).
        scatter_kwargs : dict, default=None
            Passed to :meth:`matplotlib.axes.Axes.scatter`.
        imshow_kwargs : dict, default=None
            Passed to :meth:`matplotlib.axes.Axes.imshow`.

        Returns
        -------
        display : IdentifiabilityDisplay
            Object storing the computed values and the artists.
        """
        plt = _import_pyplot()
        rows, cols = self.pairs
        n_pairs = int(min(n_pairs, len(rows)))
        axes = self._make_axes(plt, ax, n_pairs + 1, n_cols)
        idx = np.unique(np.linspace(0, len(self.z_true) - 1, max_points).astype(int))
        style = {"s": 4, "alpha": 0.4, **(scatter_kwargs or {})}
        self.scatter_ = []
        for a, i, j in zip(axes[:n_pairs], rows, cols):
            self.scatter_.append(
                a.scatter(self.z_true[idx, i], self.z_pred[idx, j], **style)
            )
            a.set(
                xlabel=f"true z[{i}]",
                ylabel=f"recovered z[{j}]",
                title=f"|r| = {self.abs_corr[i, j]:.3f}",
            )
        self._plot_heatmap(axes[-1], annotate, imshow_kwargs)
        if self.estimator_name is not None:
            self.figure_.suptitle(self.estimator_name)
        self.axes_ = axes
        return self

    def _make_axes(self, plt, ax, n_panels, n_cols):
        """Return a flat array of ``n_panels`` Axes and set ``figure_``."""
        n_cols = n_panels if n_cols is None else int(min(n_cols, n_panels))
        n_rows = int(np.ceil(n_panels / n_cols))
        if ax is None:
            fig, grid = plt.subplots(
                n_rows,
                n_cols,
                squeeze=False,
                figsize=(3.2 * n_cols, 3.0 * n_rows),
                layout="constrained",
            )
            for extra in grid.ravel()[n_panels:]:
                extra.remove()
            self.figure_ = fig
            return grid.ravel()[:n_panels]
        if isinstance(ax, plt.Axes):
            from matplotlib.gridspec import GridSpecFromSubplotSpec

            ax.set_axis_off()
            self.figure_ = ax.figure
            specs = GridSpecFromSubplotSpec(
                n_rows, n_cols, subplot_spec=ax.get_subplotspec()
            )
            return np.array(
                [self.figure_.add_subplot(specs[k]) for k in range(n_panels)],
                dtype=object,
            )
        axes = np.asarray(ax, dtype=object).ravel()
        if axes.size != n_panels:
            raise ValueError(
                f"Expected ax to hold {n_panels} Axes (n_pairs scatter panels and "
                f"the heat map), got {axes.size}."
            )
        self.figure_ = axes[0].figure
        return axes

    def _plot_heatmap(self, ax, annotate, imshow_kwargs):
        corr = self.abs_corr
        style = {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0, **(imshow_kwargs or {})}
        self.im_ = ax.imshow(corr, **style)
        self.figure_.colorbar(self.im_, ax=ax, fraction=0.046, pad=0.04)
        title = (
            "|corr|"
            if self.score is None
            else (f"|corr|, {self.score_name} = {self.score:.3f}")
        )
        ax.set(xlabel="recovered component", ylabel="true component", title=title)
        for axis, size in ((ax.xaxis, corr.shape[1]), (ax.yaxis, corr.shape[0])):
            axis.set_major_locator(_integer_locator(size))
        self.text_ = None
        if annotate == "auto":
            annotate = corr.size <= 36
        if annotate:
            self.text_ = np.empty(corr.shape, dtype=object)
            for (i, j), value in np.ndenumerate(corr):
                color = "black" if value > 0.6 else "white"
                self.text_[i, j] = ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=color,
                )

    @classmethod
    def from_predictions(
        cls,
        z_true,
        z_pred,
        *,
        align=None,
        method="pearson",
        estimator_name=None,
        ax=None,
        **plot_kwargs,
    ):
        """Plot identifiability from true latents and a representation.

        Parameters
        ----------
        z_true : array-like of shape (n_samples, n_true)
            Ground-truth latents.
        z_pred : array-like of shape (n_samples, n_pred)
            Recovered representation.
        align : {None, "linear"}, default=None
            None plots ``z_pred`` as is (permutation identifiability, e.g. a
            box encoder or ICA output). "linear" first replaces it by its
            least-squares linear prediction of ``z_true``, which shows
            identifiability up to a linear map, e.g. for a sphere encoder.
            The prediction is cross-fitted: the samples are split into two
            halves (a fixed shuffle), and each half is predicted by a linear
            map fitted on the other, so the plot and ``score`` are held-out
            and deterministic.
        method : {"pearson", "spearman"}, default="pearson"
            Correlation used for the matching and the heat map.
        estimator_name : str, default=None
            Title of the figure.
        ax : matplotlib Axes or array-like of Axes, default=None
            See :meth:`plot`.
        **plot_kwargs : dict
            Other keyword arguments of :meth:`plot`.

        Returns
        -------
        display : IdentifiabilityDisplay
            The plotted display; ``display.score`` is the MCC of the
            (aligned) representation.
        """
        z_true, z_pred = check_latent_pair(z_true, z_pred)
        if align not in (None, "linear"):
            raise ValueError(f"align must be None or 'linear', got {align!r}.")
        if method not in ("pearson", "spearman"):
            raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}.")
        if align == "linear":
            z_pred = _cross_fitted_alignment(z_true, z_pred)
        abs_corr = _abs_corr(z_true, z_pred, method)
        rows, cols = _match(abs_corr)
        score = float(abs_corr[rows, cols].sum() / z_true.shape[1])
        display = cls(
            z_true=z_true,
            z_pred=z_pred,
            abs_corr=abs_corr,
            pairs=(rows, cols),
            score=score,
            estimator_name=estimator_name,
        )
        return display.plot(ax=ax, **plot_kwargs)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        z_true,
        *,
        align=None,
        method="pearson",
        estimator_name=None,
        ax=None,
        **plot_kwargs,
    ):
        """Plot identifiability of a fitted transformer's output.

        Parameters
        ----------
        estimator : fitted transformer
            Any object with ``transform`` (e.g. a fitted
            :class:`~sklcm.MultimodalContrastiveEncoder`, or a pipeline ending
            in :class:`~sklcm.CoupledLatentICA`).
        X : array-like of shape (n_samples, n_features)
            Input of ``estimator.transform``.
        z_true : array-like of shape (n_samples, n_true)
            Ground-truth latents of ``X``.
        align : {None, "linear"}, default=None
            See :meth:`from_predictions`.
        method : {"pearson", "spearman"}, default="pearson"
            Correlation used for the matching and the heat map.
        estimator_name : str, default=None
            Title of the figure; None uses the estimator's class name.
        ax : matplotlib Axes or array-like of Axes, default=None
            See :meth:`plot`.
        **plot_kwargs : dict
            Other keyword arguments of :meth:`plot`.

        Returns
        -------
        display : IdentifiabilityDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklcm import MultimodalContrastiveEncoder
        >>> from sklcm.datasets import make_latent_partial_causal
        >>> from sklcm.metrics import IdentifiabilityDisplay
        >>> X, z, info = make_latent_partial_causal(
        ...     200, n_latents=2, random_state=0, return_info=True)
        >>> enc = MultimodalContrastiveEncoder(
        ...     2, split=info.split, max_epochs=2, hidden_layer_sizes=(16,),
        ...     random_state=0).fit(X)
        >>> disp = IdentifiabilityDisplay.from_estimator(enc, X, z, align="linear")
        >>> disp.im_.get_array().shape
        (2, 2)
        """
        if not hasattr(estimator, "transform"):
            raise TypeError(
                f"{type(estimator).__name__} has no transform method: pass a fitted "
                "transformer, or use from_predictions with its output."
            )
        name = type(estimator).__name__ if estimator_name is None else estimator_name
        return cls.from_predictions(
            z_true,
            estimator.transform(X),
            align=align,
            method=method,
            estimator_name=name,
            ax=ax,
            **plot_kwargs,
        )
