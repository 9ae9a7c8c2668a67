"""Vectorised numpy samplers for the latent distributions of the generators."""
# License: BSD 3 clause

import numpy as np
from sklearn.utils.validation import check_random_state

# Every sampler here takes a ``numpy.random.Generator`` (``rng``) as first argument.
# Public entry points accept ``random_state`` (None, int, RandomState or Generator)
# and turn it into a Generator once with ``_as_generator``.

_MAX_REJECTION_ROUNDS = 1000


# Child of a seed's SeedSequence that draws samples. The mixing functions draw
# from the seed's root sequence, so one int seeding both the model and the
# samples gives two independent streams (numpy's SeedSequence.spawn keys).
_SAMPLE_STREAM = 1


def _as_generator(random_state, stream=None):
    """Return a ``numpy.random.Generator`` derived deterministically from a seed.

    A Generator is returned unchanged (so that a caller can stream fresh draws
    from one Generator). Otherwise ``random_state`` goes through scikit-learn's
    ``check_random_state`` (None: numpy's global RandomState; int: a new seeded
    RandomState) and 128 bits drawn from it seed a ``SeedSequence``. With
    ``stream=k`` the Generator uses that sequence's child ``k`` (the sequence
    ``spawn`` would give), so the same seed with different ``stream`` values
    yields independent Generators.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, bool):
        raise TypeError(
            "`random_state` must be None, an int, a RandomState or a "
            f"Generator, got {random_state!r}."
        )
    try:
        rs = check_random_state(random_state)
    except ValueError as exc:
        raise TypeError(
            "`random_state` must be None, an int, a RandomState or a Generator, "
            f"got {type(random_state).__name__}."
        ) from exc
    entropy = [int(word) for word in rs.randint(0, 2**32, size=4, dtype=np.uint64)]
    spawn_key = () if stream is None else (stream,)
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=spawn_key))


def _normalize_rows(a):
    """Scale every row of ``a`` to unit Euclidean norm (in place; returned)."""
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    return a


def _sample_uniform_sphere(rng, n_samples, n_dims):
    """Draw points uniformly on the unit sphere S^{n_dims-1} (normalised Gaussians)."""
    return _normalize_rows(rng.standard_normal((n_samples, n_dims)))


def _sample_uniform_box(rng, n_samples, n_dims, low=-1.0, high=1.0):
    """Draw points uniformly in the box [low, high]^n_dims."""
    return rng.uniform(low, high, size=(n_samples, n_dims))


def _sample_normal(rng, loc, scale):
    """Draw ``loc + scale * N(0, 1)`` element-wise (``loc`` is an array)."""
    return loc + scale * rng.standard_normal(np.shape(loc))


def _sample_laplace(rng, loc, scale):
    """Draw Laplace(loc, scale) element-wise: density ∝ exp(-|x - loc| / scale)."""
    return rng.laplace(loc, scale, size=np.shape(loc))


def _sample_gennorm(rng, loc, scale, beta):
    """Draw generalized-normal noise element-wise.

    Density ∝ exp(-|(x - loc) / scale|^beta), sampled as
    ``loc + scale * sign * Gamma(1/beta, 1) ** (1/beta)``. Its variance is
    ``scale**2 * Gamma(3/beta) / Gamma(1/beta)`` (beta=2: normal with variance
    scale**2 / 2; beta=1: Laplace).
    """
    shape = np.shape(loc)
    magnitude = rng.standard_gamma(1.0 / beta, size=shape) ** (1.0 / beta)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return loc + scale * sign * magnitude


def _truncate_to_box(
    rng, draw, loc, low=-1.0, high=1.0, max_rounds=_MAX_REJECTION_ROUNDS
):
    """Sample ``draw(rng, loc)`` conditioned on lying in the box [low, high]^n.

    ``draw`` returns one element-wise independent draw per entry of ``loc``
    (the noise distributions here are products over coordinates, and so is the
    box), so rejecting and redrawing single *entries* is exact and far faster
    than redrawing whole rows when the coupling is loose. Only the rejected
    entries are redrawn, for at most ``max_rounds`` rounds.
    """
    loc = np.asarray(loc, dtype=np.float64)
    out = draw(rng, loc)
    bad = np.flatnonzero((out < low) | (out > high))
    flat_out, flat_loc = out.reshape(-1), loc.reshape(-1)
    for _ in range(max_rounds):
        if bad.size == 0:
            return out
        redraw = draw(rng, flat_loc[bad])
        flat_out[bad] = redraw
        bad = bad[(redraw < low) | (redraw > high)]
    raise RuntimeError(
        f"Rejection sampling into the box [{low}, {high}] did not finish after "
        f"{max_rounds} rounds: the distribution puts almost no mass in the box. "
        "Increase `concentration` (tighter coupling)."
    )


def _sample_vmf_cosine(rng, n_samples, n_dims, kappa, max_rounds=_MAX_REJECTION_ROUNDS):
    """Draw w = <x, mu> for x ~ vMF(mu, kappa) on S^{n_dims-1} (Wood, 1994).

    Vectorised rejection: every round proposes ``w`` for all still-pending
    samples from the Beta proposal and keeps the accepted ones.
    """
    m = n_dims - 1.0
    # Numerically stable forms of b = (-2k + sqrt(4k^2 + m^2)) / m and 1 - x0^2.
    b = m / (2.0 * kappa + np.sqrt(4.0 * kappa**2 + m**2))
    x0 = (1.0 - b) / (1.0 + b)
    c = kappa * x0 + m * np.log(4.0 * b / (1.0 + b) ** 2)
    w = np.empty(n_samples)
    pending = np.arange(n_samples)
    for _ in range(max_rounds):
        if pending.size == 0:
            return w
        z = rng.beta(m / 2.0, m / 2.0, size=pending.size)
        w_prop = (1.0 - (1.0 + b) * z) / (1.0 - (1.0 - b) * z)
        log_u = np.log(rng.random(pending.size))
        accept = kappa * w_prop + m * np.log(1.0 - x0 * w_prop) - c >= log_u
        w[pending[accept]] = w_prop[accept]
        pending = pending[~accept]
    raise RuntimeError(  # pragma: no cover - acceptance rate is always > 0.5
        f"vMF rejection sampler did not finish after {max_rounds} rounds."
    )


def _sample_tangent(rng, mean):
    """Draw one unit vector per row, uniform on the sphere orthogonal to ``mean``.

    ``mean`` must have unit-norm rows and at least 2 columns.
    """
    v = rng.standard_normal(mean.shape)
    v -= np.einsum("ij,ij->i", v, mean)[:, None] * mean
    return _normalize_rows(v)


def _sample_vmf(rng, mean, kappa):
    """Draw one von Mises-Fisher sample per row of ``mean`` (unit-norm rows).

    Each row i is a draw from vMF(mean[i], kappa): the cosine w to the mean is
    sampled with Wood's algorithm, the direction in the tangent space uniformly.
    """
    mean = np.asarray(mean, dtype=np.float64)
    n_samples, n_dims = mean.shape
    w = _sample_vmf_cosine(rng, n_samples, n_dims, kappa)
    tangent = _sample_tangent(rng, mean)
    sine = np.sqrt(np.clip(1.0 - w**2, 0.0, None))
    return w[:, None] * mean + sine[:, None] * tangent
