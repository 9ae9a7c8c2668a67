"""Order of the gallery examples: from first steps to specialised topics."""
# License: BSD 3 clause

ORDER = [
    "plot_quick_start.py",
    "plot_box_vs_sphere.py",
    "plot_coupled_ica.py",
    "plot_grid_search.py",
    "plot_identifiability_display.py",
    "plot_precomputed_embeddings.py",
]


class ExampleOrder:
    """sphinx-gallery ``within_subsection_order``: listed files first, then
    any other file alphabetically."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        rank = ORDER.index(filename) if filename in ORDER else len(ORDER)
        return (rank, filename)
