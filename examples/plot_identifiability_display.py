"""
======================================================
Plotting recovered latents with IdentifiabilityDisplay
======================================================

:class:`~sklcm.metrics.IdentifiabilityDisplay` shows, for each true latent,
a scatter against the learned component matched to it, and a heat map of the
absolute correlation between all true and learned components. A perfect
component-wise recovery gives straight lines and one bright cell per row.
"""

# %%
# A box encoder: component-wise recovery
# --------------------------------------
# In the box setting the encoder's dimensions themselves should be the
# latents (up to order, sign and scale), so the output is plotted as is.
import matplotlib.pyplot as plt

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import make_latent_partial_causal
from sklcm.metrics import IdentifiabilityDisplay

X, z, info = make_latent_partial_causal(
    4000, n_latents=3, latent_space="box", random_state=0, return_info=True
)
X_test, z_test = info.sampler.sample(2000, random_state=1)

box_encoder = MultimodalContrastiveEncoder(
    n_components=3,
    split=info.split,
    latent_space="box",
    hidden_layer_sizes=(128, 128, 128),
    max_epochs=30,
    random_state=0,
).fit(X)

disp = IdentifiabilityDisplay.from_estimator(
    box_encoder, X_test, z_test, estimator_name="box encoder"
)
plt.show()

# %%
# A sphere encoder: recovery up to a linear map
# ---------------------------------------------
# A sphere encoder recovers the latents only up to a rotation, so its raw
# dimensions do not line up with single latents. ``align="linear"`` first
# maps the representation to the latents by least squares, which shows
# linear identifiability instead. Both displays are drawn into one figure by
# passing ``ax``.
X_s, z_s, info_s = make_latent_partial_causal(
    4000, n_latents=3, latent_space="sphere", random_state=0, return_info=True
)
X_s_test, z_s_test = info_s.sampler.sample(2000, random_state=1)
sphere_encoder = MultimodalContrastiveEncoder(
    n_components=3,
    split=info_s.split,
    hidden_layer_sizes=(128, 128, 128),
    max_epochs=30,
    random_state=0,
).fit(X_s)

fig, axes = plt.subplots(2, 4, figsize=(13, 6), layout="constrained")
IdentifiabilityDisplay.from_estimator(
    sphere_encoder, X_s_test, z_s_test, ax=axes[0], n_pairs=3
)
IdentifiabilityDisplay.from_estimator(
    sphere_encoder, X_s_test, z_s_test, align="linear", ax=axes[1], n_pairs=3
)
axes[0, 0].set_ylabel("raw output\n" + axes[0, 0].get_ylabel())
axes[1, 0].set_ylabel("linearly aligned\n" + axes[1, 0].get_ylabel())
plt.show()

# %%
# The top row scores lower: each raw dimension mixes several latents. After
# the linear alignment (bottom) the matches are close to perfect, which is
# what the sphere theorem promises. To get individual components without
# knowing the latents, use :class:`~sklcm.CoupledLatentICA` (see
# :ref:`sphx_glr_auto_examples_plot_coupled_ica.py`).
