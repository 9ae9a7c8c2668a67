"""K-view layout of the contrastive encoder: views, subsets, content blocks.

The encoder reads one array ``X = [x_1 | ... | x_K]``. An int ``split`` is
the two-view model of the original encoder (code paths of this module marked
"two views" are the encoder's own, moved here unchanged); a list of widths
selects the K-view model: one tower per view (or per group of views sharing
a tower), and per subset of views a content block, a slice of the
representation on which the views of the subset are contrasted.
"""
# License: BSD 3 clause

import copy
import functools
from itertools import combinations
from numbers import Integral

import numpy as np
import torch
from sklearn.utils.validation import check_array, check_is_fitted

from ._callbacks import inference_module
from ._net import batch_starts, blocks_score, encode
from .metrics._retrieval import label_free_score
from .nn import SymmetricInfoNCE, TwoTowerMLP
from .nn._multiview import MultiTowerMLP, SubsetInfoNCE
from .utils._validation import check_split, check_view_widths

# two-view `representation` values and the K-view `view` they stand for
_REPRESENTATION_VIEW = {"x": 0, "t": 1, "both": "all", "mean": "mean"}
_VIEW_REPRESENTATION = {0: "x", 1: "t", "all": "both", "mean": "mean"}


class ViewLayout:
    """Resolved K-view layout (plain data, pickled with the encoder).

    Attributes
    ----------
    widths : list of int
        Width of each view in ``X``.
    subsets : list of tuple of int
        Subsets of views contrasted, in order.
    blocks : list of tuple of int
        ``(start, stop)`` columns of each subset's content block in a tower's
        output.
    towers : list of int
        Tower index of each view.
    """

    def __init__(self, widths, subsets, blocks, towers):
        self.widths = widths
        self.subsets = subsets
        self.blocks = blocks
        self.towers = towers

    @property
    def n_views(self):
        return len(self.widths)

    def view_blocks(self, k):
        """Indices of the blocks of the subsets that contain view ``k``."""
        return [b for b, subset in enumerate(self.subsets) if k in subset]

    def view_columns(self, k):
        """Columns of view ``k``'s own blocks in its tower's output."""
        return np.concatenate(
            [np.arange(*self.blocks[b]) for b in self.view_blocks(k)]
        ).astype(np.intp)

    def stops(self):
        return np.cumsum(self.widths)


def _subset_tag(subset):
    return "-".join(str(k) for k in subset)


def _check_subsets(subsets, n_views):
    """Subsets of views as sorted tuples, or a clear error."""
    if isinstance(subsets, str):
        sizes = [2] if subsets == "pairs" else range(2, n_views + 1)
        return [s for size in sizes for s in combinations(range(n_views), size)]
    if not isinstance(subsets, (list, tuple)) or not subsets:
        raise ValueError(
            "`subsets` must be 'pairs', 'all' or a non-empty list of tuples of "
            f"view indices such as [(0, 1), (0, 1, 2)], got {subsets!r}."
        )
    resolved = []
    for subset in subsets:
        if isinstance(subset, (str, bytes)) or not hasattr(subset, "__iter__"):
            raise ValueError(
                f"`subsets`: every subset must be a tuple of view indices, got "
                f"{subset!r} in {subsets!r}."
            )
        views = list(subset)
        if not all(isinstance(k, Integral) and not isinstance(k, bool) for k in views):
            raise ValueError(f"`subsets`: view indices must be ints, got {subset!r}.")
        if len(set(views)) != len(views) or len(views) < 2:
            raise ValueError(
                f"`subsets`: the subset {subset!r} must name at least 2 distinct views."
            )
        missing = [k for k in views if not 0 <= k < n_views]
        if missing:
            raise ValueError(
                f"`subsets`: the subset {subset!r} names view(s) {missing}, but X "
                f"has {n_views} views (indices 0 to {n_views - 1}, from `split`)."
            )
        key = tuple(sorted(int(k) for k in views))
        if key in resolved:
            raise ValueError(f"`subsets` lists the subset {key} twice.")
        resolved.append(key)
    return resolved


def _check_content_sizes(content_sizes, n_subsets, n_components):
    """The width of every content block, or a clear error."""
    if content_sizes is None:
        base, extra = divmod(n_components, n_subsets)
        if base == 0:
            raise ValueError(
                f"n_components={n_components} cannot hold one content block for "
                f"each of the {n_subsets} subsets: raise n_components to at least "
                f"{n_subsets} (2 columns per block or more on the sphere), or "
                "contrast fewer `subsets`."
            )
        sizes = [base + (b < extra) for b in range(n_subsets)]
    elif isinstance(content_sizes, Integral):
        sizes = [int(content_sizes)] * n_subsets
    else:
        sizes = list(content_sizes)
        if len(sizes) != n_subsets or not all(
            isinstance(s, Integral) and not isinstance(s, bool) and s >= 1
            for s in sizes
        ):
            raise ValueError(
                f"`content_sizes` must be an int or a list of {n_subsets} positive "
                f"ints (one per subset), got {content_sizes!r}."
            )
        sizes = [int(s) for s in sizes]
    if sum(sizes) > n_components:
        raise ValueError(
            f"`content_sizes` {sizes} add up to {sum(sizes)} columns, more than "
            f"n_components={n_components}: the content blocks are disjoint slices "
            f"of the representation. Set n_components={sum(sizes)} or smaller "
            "blocks."
        )
    return sizes


def _check_towers(shared_towers, widths, whiten_inputs):
    """Tower index of every view."""
    if shared_towers is False:
        return list(range(len(widths)))
    if shared_towers is True:
        groups = {}
        for k, w in enumerate(widths):
            groups.setdefault(w, []).append(k)
        groups = list(groups.values())
    else:
        groups = [list(g) for g in shared_towers]
    towers = [None] * len(widths)
    for g, group in enumerate(groups):
        for k in group:
            if not (isinstance(k, Integral) and 0 <= k < len(widths)):
                raise ValueError(
                    f"`shared_towers`: {k!r} in {shared_towers!r} is not a view "
                    f"index (X has {len(widths)} views)."
                )
            if towers[k] is not None:
                raise ValueError(
                    f"`shared_towers` puts view {k} in two groups: {shared_towers!r}."
                )
            towers[k] = g
        if len({widths[k] for k in group}) > 1:
            raise ValueError(
                f"`shared_towers`: views {group} have widths "
                f"{[widths[k] for k in group]}; only views of equal width can share "
                "a tower."
            )
    free = iter(range(len(groups), len(groups) + len(widths)))
    towers = [next(free) if t is None else t for t in towers]
    # number the towers by first use, so that view 0 always has tower 0
    order = list(dict.fromkeys(towers))
    towers = [order.index(t) for t in towers]
    if whiten_inputs and len(set(towers)) < len(widths):
        raise ValueError(
            "whiten_inputs=True needs one tower per view (each whitens its own "
            "view); set shared_towers=False or whiten_inputs=False."
        )
    return towers


def _fill_rest(split, n_features):
    """Replace one width of -1 in a list ``split`` by the remaining columns."""
    if isinstance(split, str) or not hasattr(split, "__iter__"):
        return split
    widths = list(split)
    rest = [i for i, w in enumerate(widths) if isinstance(w, Integral) and w == -1]
    if len(rest) > 1:
        raise ValueError(
            f"`split`={widths} has more than one width of -1; only one view can "
            "take the remaining columns."
        )
    if rest:
        others = sum(w for i, w in enumerate(widths) if i != rest[0])
        widths[rest[0]] = n_features - others
        if widths[rest[0]] < 1:
            raise ValueError(
                f"`split`={list(split)}: X has {n_features} columns, which leaves "
                f"{widths[rest[0]]} for the view of width -1 (it needs at least 1)."
            )
    return widths


def resolve_layout(encoder, n_features):
    """Validate ``split``, ``subsets``, ``content_sizes``, ``shared_towers``
    and ``view`` against ``n_features``.

    Returns None for an int ``split`` (the two-view model), else a
    :class:`ViewLayout`. Every error is raised here, before any training.
    """
    split, view = encoder.split, encoder.view
    if split is None or isinstance(split, Integral):
        check_split(split, n_features)
        if not isinstance(encoder.subsets, str):
            _check_subsets(encoder.subsets, 2)
        if encoder.content_sizes not in (
            None,
            encoder.n_components,
            [encoder.n_components],
        ):
            raise ValueError(
                f"content_sizes={encoder.content_sizes!r} needs the K-view model: "
                f"pass split as a list of view widths, e.g. split=[{split}, "
                f"{n_features - split}]."
            )
        if encoder.shared_towers is not False:
            raise ValueError(
                "shared_towers needs the K-view model: pass split as a list of view "
                f"widths, e.g. split=[{split}, {n_features - split}]."
            )
        if isinstance(view, Integral) and view > 1:
            raise ValueError(f"view={view}, but an int split gives 2 views (0 and 1).")
        return None
    widths = check_view_widths(_fill_rest(split, n_features), n_features)
    subsets = _check_subsets(encoder.subsets, len(widths))
    unused = sorted(set(range(len(widths))).difference(*subsets))
    if unused:
        raise ValueError(
            f"views {unused} are in none of the `subsets` {subsets}: no loss would "
            "train their towers. Add them to a subset or drop their columns."
        )
    sizes = _check_content_sizes(
        encoder.content_sizes, len(subsets), encoder.n_components
    )
    stops = np.cumsum(sizes)
    blocks = [(int(b - s), int(b)) for s, b in zip(sizes, stops)]
    towers = _check_towers(encoder.shared_towers, widths, encoder.whiten_inputs)
    if isinstance(view, Integral) and view >= len(widths):
        raise ValueError(
            f"view={view}, but `split` gives {len(widths)} views (0 to "
            f"{len(widths) - 1})."
        )
    return ViewLayout(widths, subsets, blocks, towers)


# the K-view parameters and their defaults, for encoders pickled before them
_VIEW_PARAMETERS = {
    "view": None,
    "subsets": "pairs",
    "content_sizes": None,
    "shared_towers": False,
}


def add_view_parameters(state):
    """Give the ``__dict__`` of an encoder pickled before K views their
    parameters (and its recorded fit parameters) at their defaults."""
    for name, default in _VIEW_PARAMETERS.items():
        state.setdefault(name, default)
        if "_trained_params_" in state:
            state["_trained_params_"].setdefault(name, default)


def set_layout_attributes(encoder, layout):
    """Set the fitted ``content_blocks_``, ``n_views_`` and ``_layout_``."""
    encoder._layout_ = layout
    if layout is None:
        encoder.n_views_ = 2
        encoder.content_blocks_ = {(0, 1): slice(0, encoder.n_components)}
    else:
        encoder.n_views_ = layout.n_views
        encoder.content_blocks_ = {
            s: slice(*b) for s, b in zip(layout.subsets, layout.blocks)
        }


def module_class(layout):
    """The tower module class for ``layout`` (TwoTowerMLP's signature)."""
    if layout is None:
        return TwoTowerMLP

    def build(split, *args, **kwargs):  # ``split`` may hold a -1: use the widths
        return MultiTowerMLP(
            layout.widths,
            *args,
            blocks=layout.blocks,
            subsets=layout.subsets,
            towers=layout.towers,
            **kwargs,
        )

    return build


def criterion_class(layout):
    """The loss class for ``layout`` (SymmetricInfoNCE's signature)."""
    if layout is None:
        return SymmetricInfoNCE
    return functools.partial(SubsetInfoNCE, layout.subsets, layout.blocks)


# ------------------------------------------------------------------ inference
def _layout(encoder):
    return getattr(encoder, "_layout_", None)  # None: two views (older pickles)


def _selection(encoder):
    """What ``transform`` returns: a view index, ``"all"`` or ``"mean"``."""
    if encoder.view is not None:
        return encoder.view
    return _REPRESENTATION_VIEW[encoder.representation]


def _representation(encoder):
    """The two-view ``representation`` that ``view`` (if set) stands for."""
    if encoder.view is None:
        return encoder.representation
    return _VIEW_REPRESENTATION[encoder.view]


def _encode_full(encoder, X_m, view):
    """Tower output of one view (all ``n_components`` columns), input dtype."""
    module = inference_module(encoder.net_, encoder.ema_decay)
    device = next(module.parameters()).device
    return encode(module, X_m, view, device).astype(X_m.dtype, copy=False)


def _view_slices(layout, X):
    starts = layout.stops() - np.asarray(layout.widths)
    return [X[:, a:b] for a, b in zip(starts, layout.stops())]


def transform(encoder, X):
    """The encoder's ``transform``."""
    check_is_fitted(encoder)
    X = encoder._check_X(X)
    layout = _layout(encoder)
    if layout is None:  # two views
        representation = _representation(encoder)
        x, t = X[:, : encoder.split], X[:, encoder.split :]
        if representation == "x":
            return _encode_full(encoder, x, "x")
        if representation == "t":
            return _encode_full(encoder, t, "t")
        z_x, z_t = _encode_full(encoder, x, "x"), _encode_full(encoder, t, "t")
        if representation == "both":
            return np.hstack([z_x, z_t])
        return (z_x + z_t) / 2
    selection, views = _selection(encoder), _view_slices(layout, X)
    if isinstance(selection, Integral):
        z = _encode_full(encoder, views[selection], selection)
        return z[:, layout.view_columns(selection)]
    full = [_encode_full(encoder, x, k) for k, x in enumerate(views)]
    if selection == "all":
        return np.hstack([z[:, layout.view_columns(k)] for k, z in enumerate(full)])
    parts = [
        np.mean([full[k][:, a:b] for k in subset], axis=0).astype(X.dtype, copy=False)
        for subset, (a, b) in zip(layout.subsets, layout.blocks)
    ]
    return np.hstack(parts)


def encode_view(encoder, X_m, modality):
    """The encoder's ``encode``: one view alone."""
    check_is_fitted(encoder)
    layout = _layout(encoder)
    n_views = 2 if layout is None else layout.n_views
    valid = (
        modality in ("x", "t")
        if isinstance(modality, str)
        else isinstance(modality, Integral) and 0 <= modality < n_views
    )
    if not valid:
        raise ValueError(
            f"modality must be 'x', 't' or a view index from 0 to {n_views - 1}, "
            f"got {modality!r}."
        )
    X_m = check_array(X_m, dtype=[np.float64, np.float32], input_name="X_m")
    if layout is None:  # two views
        modality = _VIEW_REPRESENTATION.get(modality, modality)
        split = encoder.split
        width = split if modality == "x" else encoder.n_features_in_ - split
        widths = f"split={split}, n_features_in_={encoder.n_features_in_}"
    else:
        modality = _REPRESENTATION_VIEW.get(modality, modality)
        width, widths = layout.widths[modality], f"split={layout.widths}"
    if X_m.shape[1] != width:
        raise ValueError(
            f"X_m has {X_m.shape[1]} features, but modality {modality!r} was "
            f"fitted on {width} ({widths})."
        )
    z = _encode_full(encoder, X_m, modality)
    return z if layout is None else z[:, layout.view_columns(modality)]


def encode_all(encoder, X):
    """Full tower outputs of every view of ``X`` (at least 2 rows)."""
    X = encoder._check_X(X, ensure_min_samples=2)
    layout = _layout(encoder)
    if layout is None:  # two views
        return [
            _encode_full(encoder, X[:, : encoder.split], "x"),
            _encode_full(encoder, X[:, encoder.split :], "t"),
        ]
    return [_encode_full(encoder, x, k) for k, x in enumerate(_view_slices(layout, X))]


def score(encoder, X):
    """The encoder's ``score``."""
    check_is_fitted(encoder)
    zs, layout = encode_all(encoder, X), _layout(encoder)
    sim, p, size = encoder._similarity(), encoder.p, encoder._score_block_size
    if layout is None:  # two views
        return label_free_score(*zs, sim, p, size)
    return blocks_score(zs, layout.subsets, layout.blocks, sim, p, size)


@torch.no_grad()
def infonce_loss(encoder, X):
    """The encoder's ``infonce_loss``."""
    check_is_fitted(encoder)
    zs = [torch.as_tensor(z, dtype=torch.float32) for z in encode_all(encoder, X)]
    criterion = copy.deepcopy(encoder.net_.criterion_).cpu()
    bs = encoder.batch_size_
    losses = [
        float(criterion(*(z[s : s + bs] for z in zs)))
        for s in batch_starts(len(zs[0]), bs)
    ]
    return float(np.mean(losses))


def feature_names_out(encoder, names):
    """Output feature names; ``names`` are the default prefixed ones."""
    prefix, layout = type(encoder).__name__.lower(), _layout(encoder)
    if layout is None:  # two views
        if _representation(encoder) == "both":  # prefix0 -> prefix_x0, prefix_t0
            k = encoder.n_components
            names = np.asarray(
                [f"{prefix}_{m}{i % k}" for i, m in enumerate("x" * k + "t" * k)],
                object,
            )
        return names
    selection = _selection(encoder)
    if selection == "mean":
        tags = [("mean", b) for b in range(len(layout.subsets))]
    else:
        views = range(layout.n_views) if selection == "all" else [selection]
        tags = [(f"view{k}", b) for k in views for b in layout.view_blocks(k)]
    return np.asarray(
        [
            f"{prefix}_{who}_block{_subset_tag(layout.subsets[b])}_{i}"
            for who, b in tags
            for i in range(layout.blocks[b][1] - layout.blocks[b][0])
        ],
        object,
    )


def n_features_out(encoder):
    layout = _layout(encoder)
    if layout is None:  # two views
        k = encoder.n_components
        return 2 * k if _representation(encoder) == "both" else k
    return len(feature_names_out(encoder, None))
