"""
====================================
Disentangling precomputed embeddings
====================================

The paper applies ICA, or PCA followed by ICA, to features of a pretrained
CLIP model. This example follows that recipe on embeddings read from a
``.npy`` file, the usual way such features are shipped.

No model is downloaded here: a stand-in for CLIP image features is generated
from 6 independent non-Gaussian factors, spread over 64 dimensions by a random
linear map, plus an offset and isotropic noise. With real features, replace
the generation step by your own ``np.load``. As in the paper, ICA is fitted
on the raw features: the row-wise L2 normalisation that CLIP applies before
computing similarities is a nonlinear map, and with heavy-tailed factors it
noticeably harms the ICA.
"""

# %%
# CLIP-like embeddings, saved and loaded back
# -------------------------------------------
import tempfile
from pathlib import Path

import numpy as np

rng = np.random.default_rng(0)
n_samples, n_factors, n_dims = 5000, 6, 64
factors = rng.laplace(size=(n_samples, n_factors))  # independent, non-Gaussian
loadings = rng.normal(size=(n_dims, n_factors))
offset = rng.normal(size=n_dims)
features = offset + factors @ loadings.T + 0.5 * rng.normal(size=(n_samples, n_dims))

with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "image_features.npy"
    np.save(path, features.astype(np.float32))
    embeddings = np.load(path)
print(embeddings.shape, embeddings.dtype)

# %%
# How many directions carry signal?
# ---------------------------------
# The PCA spectrum of the embeddings shows a few strong directions on top of
# a flat noise floor. Keep the strong ones.
import matplotlib.pyplot as plt
from sklearn.decomposition import PCA

ratio = PCA().fit(embeddings).explained_variance_ratio_
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
ax.plot(np.arange(1, 21), ratio[:20], "o-")
ax.axvline(n_factors + 0.5, color="gray", ls="--")
ax.set(
    xlabel="principal direction",
    ylabel="explained variance ratio",
    yscale="log",
    title="PCA spectrum",
)
plt.show()

# %%
# PCA then ICA, against PCA alone
# -------------------------------
# ``pca_components`` keeps the leading directions before the ICA. PCA alone
# finds the right subspace but not the individual factors.
from sklcm import CoupledLatentICA
from sklcm.metrics import mean_corr_coef

pca = PCA(n_components=n_factors).fit(embeddings)
ica = CoupledLatentICA(pca_components=n_factors, random_state=0).fit(embeddings)

mcc_pca = mean_corr_coef(factors, pca.transform(embeddings))
mcc_ica = mean_corr_coef(factors, ica.transform(embeddings))
print(f"MCC PCA only:  {mcc_pca:.3f}")
print(f"MCC PCA + ICA: {mcc_ica:.3f}")
print("ICA iterations:", ica.n_iter_)

# %%
# With real features there is no ground truth: inspect the components
# instead, e.g. the samples with the largest value of each component, and
# use them downstream (a linear probe, retrieval). Keep in mind that an L2
# logistic regression on whitened features is blind to the final rotation,
# so any accuracy gain from ICA must be compared with whitening alone.
