"""
============================================
Many views: what each subset of views shares
============================================

With more than two paired views, contrastive learning can identify the
latents shared by *any subset* of the views, each in its own slice of the
representation (Yao et al., ICLR 2024). Here four views observe six latents
in the layout of their numerical study: all four share latents 0 and 1, and
each pair and triple shares more.

One :class:`~sklcm.MultimodalContrastiveEncoder` with a list ``split`` trains
one tower per view and one *content block* per subset of views. A heatmap of
the held-out linear R² of every true latent from every block
(:func:`~sklcm.metrics.block_r2_table`) shows which latents each block holds.
The run is tiny (a few hundred steps); ``benchmarks/bench_multiview.py`` runs
the full-size version (R² ≥ 0.95 for every shared latent of every block,
≤ 0.2 for the others).
"""

# %%
# Four views over six latents
# ---------------------------
# :func:`~sklcm.datasets.make_multiview_latents` mixes each view's latents
# with its own invertible MLP and says which latents every subset of views
# shares.
import matplotlib.pyplot as plt
import numpy as np

from sklcm import MultimodalContrastiveEncoder
from sklcm.datasets import make_multiview_latents
from sklcm.metrics import block_r2_table

X, y, info = make_multiview_latents(
    4000, marginal="uniform", random_state=0, return_info=True
)
print("view widths:", info.split)
for subset, latents in info.shared_latents.items():
    print(f"views {subset} share latents {latents}")

# %%
# One encoder, one content block per subset
# -----------------------------------------
# ``subsets`` lists every subset of at least two views (``"all"`` would say
# the same); each block is as wide as what its subset shares.
subsets = list(info.shared_latents)
sizes = [len(info.shared_latents[s]) for s in subsets]
train, test = slice(0, 3000), slice(3000, None)
encoder = MultimodalContrastiveEncoder(
    n_components=sum(sizes),
    split=info.split,
    subsets=subsets,
    content_sizes=sizes,
    latent_space="box",
    box_squash="softclamp",
    hidden_layer_sizes=(64, 64),
    whiten_inputs=True,
    batch_size=256,
    max_epochs=1000,
    max_steps=600,
    view="mean",
    random_state=0,
).fit(X[train])
Z = encoder.transform(X[test])  # every block, averaged over its views
print("representation:", Z.shape, "blocks:", encoder.content_blocks_[(0, 1)], "...")

# %%
# Which latents each block holds
# ------------------------------
# Row ``b`` of the table: R² of each true latent from block ``b`` alone
# (linear regression, 25 % of the rows held out). The latents a subset shares
# (marked with a dot) score high, the others near 0.
table = block_r2_table(y[test], Z, encoder.content_blocks_)
fig, ax = plt.subplots(figsize=(5.5, 5))
image = ax.imshow(table.clip(0, 1), vmin=0, vmax=1, cmap="viridis", aspect="auto")
for b, subset in enumerate(subsets):
    for j in info.shared_latents[subset]:
        ax.plot(j, b, "w.", markersize=6)
ax.set_xticks(range(table.shape[1]), [f"z{j}" for j in range(table.shape[1])])
ax.set_yticks(range(len(subsets)), [str(s) for s in subsets])
ax.set_xlabel("true latent")
ax.set_ylabel("block of views")
ax.set_title("Held-out linear R² of each latent from each block")
fig.colorbar(image, ax=ax, label="R²")
fig.tight_layout()

shared = np.zeros_like(table, dtype=bool)
for b, subset in enumerate(subsets):
    shared[b, list(info.shared_latents[subset])] = True
print(f"shared latents: median R² {np.median(table[shared]):.2f}")
print(f"other latents: max R² {table[~shared].max():.2f}")
