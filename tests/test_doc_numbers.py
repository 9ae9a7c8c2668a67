"""Numbers stated in the user guide and the README come from committed results.

Each test parses a file of ``benchmarks/results/`` (or asks the code) and
checks that the pages state what it says, so the numbers cannot drift from
their evidence (the approach of ``test_quick_preset_duration_is_stated_once_
everywhere`` in ``test_cli.py``).
"""
# License: BSD 3 clause

import csv
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GUIDE = ROOT / "docs" / "user_guide"
PAIRS = ("pix|fou", "fac|kar", "digits L|R")


def _page(name):
    """A page's text with line breaks and runs of spaces folded to one space."""
    path = ROOT / name if name == "README.md" else GUIDE / name
    return " ".join(path.read_text(encoding="utf-8").split())


def _assert_stated(page, *phrases):
    text = _page(page)
    for phrase in phrases:
        assert phrase in text, f"{page} should state {phrase!r}"


def _quick_table():
    """Setting -> (ours, no ICA) means in % from the quick preset's table."""
    rows = {}
    for line in (RESULTS / "reproduce_quick" / "table.txt").read_text().splitlines():
        values = re.findall(r"(\d+\.\d+) ± \d+\.\d+", line)
        if values and not line.startswith(("setting", "-")):
            rows[line.split()[0]] = values
    return rows


def test_temperature_numbers_match_the_quick_table():
    rows = _quick_table()
    sphere, tau_small, tau_large = (
        rows[s][0] for s in ("sphere-vmf", "tau-0.1", "tau-1")
    )
    _assert_stated(
        "encoder.rst",
        f"R² {sphere} %",
        f"as much ({tau_small} %)",
        f"only {tau_large} %",
    )


def test_ica_rows_match_the_quick_table():
    rows = _quick_table()
    # columns: ours, [paper,] no ICA, baseline; the ICA rows have no paper value
    (ica_u, no_ica_u), (ica_l, no_ica_l) = (
        rows[s][:2] for s in ("ica-uniform", "ica-laplace")
    )
    _assert_stated("ica.rst", f"MCC {no_ica_u} → {ica_u} and {no_ica_l} → {ica_l} %")


def test_matched_concentrations_match_runs_csv():
    with open(RESULTS / "reproduce_quick" / "runs.csv", newline="") as f:
        used = {r["setting"]: float(r["concentration"]) for r in csv.DictReader(f)}
    text = (GUIDE / "reproduce.rst").read_text(encoding="utf-8")
    table = re.findall(r'^\s+"([\w-]+)", "[^"]*", "[^"]*", "([\d.]+)"$', text, re.M)
    assert len(table) == 5
    for setting, stated in table:
        assert float(stated) == used[setting], setting


def _realdata_sections():
    """Pair -> {method: (accuracies, fit seconds, steps)} and summary lines."""
    text = (RESULTS / "realdata.txt").read_text()
    sections = {}
    for block in text.split("\n## ")[1:]:
        pair = next(p for p in PAIRS if p in block.splitlines()[0])
        rows, lines = {}, block.splitlines()
        for line in lines[2:]:
            m = re.match(
                r"(\S.*?)\s{2,}((?:[\d.]+ ± [\d.]+\s+){3})([\d.]+)\s+(\d*)$", line
            )
            if m:
                accs = [float(a) for a in re.findall(r"([\d.]+) ±", m[2])]
                rows[m[1].strip()] = (accs, float(m[3]), m[4])
        sections[pair] = (rows, block)
    return sections


def test_early_stopping_numbers_match_realdata_txt():
    sections = _realdata_sections()
    steps = [int(rows["encoder early-stop"][2]) for rows, _ in sections.values()]
    # the early-stopped fit against the same fit without early stopping: the
    # fixed-temperature row of the label-free choice
    share = [
        100 * rows["encoder early-stop"][1] / rows[f"encoder tau={tau}"][1]
        for rows, block in sections.values()
        for tau in re.findall(r"label-free tau = (\S+) ", block)
    ]
    assert len(share) == len(sections)
    low, high = f"{min(steps)} to {max(steps)}", f"{min(steps)}–{max(steps)}"
    _assert_stated(
        "realdata.rst",
        f"stops after {low} of the 500 steps",
        f"in {min(share):.0f} to {max(share):.0f} % of the time",
    )
    _assert_stated("encoder.rst", f"stopped after {low} of 500 steps")
    _assert_stated("README.md", f"takes {high} of the 500 steps")
    for _, block in sections.values():
        change = re.search(r"accuracy change (\S+ / \S+ / \S+) at", block)[1]
        _assert_stated("realdata.rst", change.replace("-", "−"))


def _knobs():
    """(pair, label, tau) -> 1/5/10-shot accuracies of the knobs study."""
    runs = {}
    pattern = (
        r"^(\S+(?: L\|R)?)\s+(.+?) tau=([\d.]+)\s.*"
        r"\| 1-shot ([\d.]+) 5-shot ([\d.]+) 10-shot ([\d.]+)$"
    )
    text = (RESULTS / "realdata_study_knobs.txt").read_text()
    for pair, label, tau, *acc in re.findall(pattern, text, re.M):
        runs[pair, label.strip(), float(tau)] = np.array(acc, dtype=float)
    return runs


def _knob_changes(runs, labels, taus, shot=None):
    """Accuracy changes against the base tower at the same tau, all pairs."""
    pick = (lambda a: a.mean()) if shot is None else (lambda a: a[shot])
    pairs = {p for p, _, _ in runs}
    return [
        round(pick(runs[p, label, tau]) - pick(runs[p, "base", tau]), 1)
        for p in pairs
        for label in labels
        for tau in taus
    ]


def test_knob_numbers_match_the_knobs_study():
    runs = _knobs()
    assert len(runs) == 48
    narrow = _knob_changes(runs, ["width=(64,)*3"], [2.0])
    wide = _knob_changes(runs, ["width=(1024,)"], [1.0, 2.0])
    size = _knob_changes(runs, ["k=20", "k=32"], [1.0, 2.0])
    decay = _knob_changes(runs, ["wd=1e-2"], [1.0, 2.0])
    long_run = _knob_changes(runs, ["epochs=300"], [2.0], shot=0)
    assert max(narrow) < 0 and max(wide) < 0
    _assert_stated(
        "realdata.rst",
        f"64 × 3: {-max(narrow)} to {-min(narrow)} points worse at τ = 2",
        f"1024 units ({-max(wide)} to {-min(wide)} points worse)",
        f"by −{-min(size)} to +{max(size)} points",
        f"weight decay 1e-2 by at most {max(map(abs, decay))}",
        f"they cost {-min(long_run)} points at most",
    )


def _selection_section(pair):
    text = (RESULTS / "bench_selection.txt").read_text()
    block = text.split(f"(c) {pair}")[1].split("\n(")[0]
    table = {
        tau: (float(ret), float(agr), float(acc))
        for tau, ret, agr, _, acc in re.findall(
            r"^\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(-[\d.]+)\s+([\d.]+)$", block, re.M
        )
    }
    picks = dict(
        re.findall(r"pick by (\w+)\s*: tau=\S+\s+5-shot \S+\s+gap to best (\S+)", block)
    )
    return table, picks


def test_selection_claims_match_bench_selection_txt():
    digits_table, digits = _selection_section("digits halves")
    table, picks = _selection_section("mfeat pix|fou")
    best = max(acc for _, _, acc in table.values())
    assert max(table, key=lambda t: table[t][0]) == "0.2"  # retrieval's pick
    assert max(table, key=lambda t: table[t][1]) == "1"  # agreement's pick
    assert picks["retrieval"] == digits["retrieval"]
    retrieval_margin = table["0.2"][0] - table["0.5"][0]
    agreement = sorted(a for _, a, _ in table.values())
    phrases = [
        f"{picks['retrieval']} points below",
        f"{digits['agreement']} and {picks['agreement']} point",
        f"by {retrieval_margin:.3f}",
        f"{best - table['0.5'][2]:.1f} points below the best",
    ]
    _assert_stated("realdata.rst", *phrases)
    _assert_stated(
        "encoder.rst",
        *phrases[:3],
        f"({table['0.2'][0]:.3f} against {table['0.5'][0]:.3f})",
        f"over the runner-up there is {agreement[-1] - agreement[-2]:.3f}",
    )


def test_label_free_score_neighbours_in_small_blocks_as_stated(monkeypatch):
    # encoder.rst: with fewer than 12 pairs, all the other pairs but one count.
    from sklcm.metrics import _retrieval

    seen = []
    monkeypatch.setattr(
        _retrieval, "neighbor_agreement", lambda *a, **k: seen.append(k) or 0.0
    )
    for n_pairs in (5, 11, 12, 300):
        z = np.random.default_rng(0).normal(size=(n_pairs, 3))
        _retrieval.label_free_score(z, z, "cosine", 1.0, 256)
    # n - 1 other pairs in a block of n; below 12 pairs one of them is left out
    assert [k["n_neighbors"] for k in seen] == [5 - 1 - 1, 11 - 1 - 1, 10, 10]
    _assert_stated(
        "encoder.rst", "fewer than 12 pairs all the other pairs but one count"
    )


PAGES = ["README.md", *sorted(p.name for p in GUIDE.glob("*.rst"))]


@pytest.mark.parametrize("page", PAGES)
def test_extras_are_installed_from_the_checkout(page):
    # sklcm is installed from a checkout, not from an index: `pip install
    # "sklcm[ica]"` fails; the pages must say `pip install -e ".[ica]"`.
    assert not re.search(r"""pip install ['"]?sklcm\[""", _page(page)), page


def test_readme_quotes_the_quick_table():
    rows = _quick_table()
    sphere, box = rows["sphere-vmf"][0], rows["box-laplace"][0]
    _assert_stated(
        "README.md",
        f"sphere R² {sphere} ± ",
        f"box MCC {box} ± ",
        *(
            f"{setting}` {rows[setting][0]}"
            for setting in ("real-normal", "box-gennorm", "real-laplace")
        ),
        f"sphere violation rows {rows['sphere-laplace'][0]}",
    )
    assert rows["sphere-laplace"][0] == rows["sphere-normal"][0]


# Row labels of the accuracy tables -> method names in realdata.txt.
REALDATA_ROWS = {
    "raw x view": "raw",
    "PCA-10": "pca",
    "CCA-10 (x scores)": "cca",
    "PCA-10 whitened": "whiten",
    "encoder, label-free τ": "encoder",
    "encoder, τ chosen without labels": "encoder",
    "encoder + whitening": "encoder+whiten",
    "encoder + CoupledLatentICA": "encoder+ica",
    "encoder, same τ, early stopping": "encoder early-stop",
    "encoder, same τ, `early_stopping=True`": "encoder early-stop",
    "encoder, τ = 0.2 (synthetic default)": "encoder tau=0.2",
    "encoder, τ = 2": "encoder tau=2",
}


@pytest.mark.parametrize("page", ["README.md", "realdata.rst"])
def test_realdata_tables_match_realdata_txt(page):
    sections = _realdata_sections()
    path = ROOT / page if page == "README.md" else GUIDE / page
    checked = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        label = line.strip("| ")
        keys = [k for k in REALDATA_ROWS if label.startswith(k)]
        method = REALDATA_ROWS[max(keys, key=len)] if keys else None
        triples = re.findall(r"(\d+\.\d) / (\d+\.\d) / (\d+\.\d)", line)
        if method is None or len(triples) != 3:
            continue
        expected = [sections[pair][0][method][0] for pair in PAIRS]
        assert [[float(v) for v in t] for t in triples] == expected, line
        checked += 1
    assert checked == 10


def test_realdata_margins_match_realdata_txt():
    sections = _realdata_sections()
    pix, fac = sections["pix|fou"][1], sections["fac|kar"][1]
    raw = [re.search(r"encoder > raw .*margins \+(\S+)\)", b)[1] for b in (pix, fac)]
    pca = re.search(r"encoder > pca .*margins \S+ / (\S+) / (\S+)\)", pix)
    _assert_stated(
        "realdata.rst",
        f"(by {raw[0]} and {raw[1]} points)",
        f"{pca[1].replace('-', '−')} and {pca[2].replace('-', '−')} points",
    )
    _assert_stated(
        "README.md",
        f"({pca[1].replace('-', '−')} / {pca[2].replace('-', '−')} against PCA-10)",
    )


def test_install_hints_in_the_code_name_the_checkout():
    # the same rule for the ImportError hints and docstrings of the package
    for path in (ROOT / "sklcm").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""pip install ['"]?sklcm\[""", text), path


def _shift_row(case, protocol, method):
    """One method's row of a case in bench_shift.txt: the 1 ... 10-shot means
    on the test rows, then on the target."""
    text = (ROOT / "benchmarks" / "results" / "bench_shift.txt").read_text()
    block = text.split(f"## {case} | protocol {protocol} |")[1].split("\n## ")[0]
    line = next(ln for ln in block.splitlines() if ln.split()[:1] == [method])
    return [float(v) for v in re.findall(r"(\d+\.\d) ±", line)]


def test_shift_numbers_match_bench_shift_txt():
    for case, raw, ica, enc in (("mfeat -> digits", 33.3, 28.5, 48.0),
                                ("digits -> mfeat", 34.5, 26.4, 42.6)):  # fmt: skip
        rows = {m: _shift_row(case, "paper", m) for m in ("raw", "ica", "encoder")}
        assert [rows["raw"][4], rows["ica"][4], rows["encoder"][4]] == [raw, ica, enc]
        _assert_stated("realdata.rst", f"raw {raw}, ICA {ica},", f"encoder {enc}")
    mfeat = {m: _shift_row("mfeat -> digits", "paper", m) for m in ("raw", "encoder")}
    assert (mfeat["encoder"][7], mfeat["raw"][7]) == (52.2, 50.2)
    _assert_stated("realdata.rst", "52.2 against 50.2 raw at 10 shots")


def _shift_means(case, protocol):
    """Method -> "1-shot / 10-shot" means over seeds per column group of a
    synthetic case in bench_shift_summary.txt."""
    text = (RESULTS / "bench_shift_summary.txt").read_text()
    block = text.split(f"## {case} | protocol {protocol} | mean over 3 seeds")[1]
    rows = {}
    for line in block.split("\n## ")[0].splitlines()[2:]:
        cells = re.findall(r"(\d+\.\d) \(\S+\) / (\d+\.\d)", line)
        if cells:
            rows[line.split()[0]] = [f"{a} / {b}" for a, b in cells]
    return rows


def test_shift_seed_means_match_bench_shift_summary():
    rows = _shift_means("synthetic (a) specific shift 1.5, 3", "default")
    # column groups: test rows, specific_1.5, specific_3, targets mean
    for method, label in (("encoder", "encoder"), ("raw", "raw"), ("cca", "here)")):
        _assert_stated(
            "realdata.rst", f"{label} {rows[method][0]} and {rows[method][2]}"
        )
    support = [
        _shift_means(f"synthetic (b) support shift {s}", "default") for s in (0.2, 0.4)
    ]
    drops = [
        float(r["encoder"][0].split(" / ")[1]) - float(r["encoder"][1].split(" / ")[1])
        for r in support
    ]
    _assert_stated("realdata.rst", f"drops by {drops[0]:.1f} and {drops[1]:.1f}")


def _synthetic_tau_runs():
    """(kappa, n_latents, n_pairs, seed) -> (R² at τ 0.2/0.5/1/2, the pick)."""
    text = (RESULTS / "study_synthetic_tau.txt").read_text()
    runs = {}
    for block in text.split("\n## ")[1:]:
        head = re.search(
            r"kappa=(\d+), n_latents=(\d+), (\d+) pairs.*seed (\d+)", block
        )
        r2 = [float(v) for v in re.findall(r"heldout_R2=([\d.]+)", block)]
        pick = re.search(r"-> pick tau=(\S+) ", block)
        if head and len(r2) == 4 and pick:
            runs[tuple(map(int, head.groups()))] = (r2, float(pick[1]))
    return runs


def test_synthetic_tau_numbers_match_study_synthetic_tau_txt():
    runs = _synthetic_tau_runs()
    # κ = 10: τ 0.2 has the best held-out R² in every run, the pick is not 0.2
    default = [run for key, run in runs.items() if key[0] == 10]
    assert len(default) == 10
    assert all(np.argmax(r2) == 0 and pick != 0.2 for r2, pick in default)
    ten = [runs[10, 10, 2000, seed][0] for seed in (0, 1, 2)]
    big = [runs[10, 10, 6000, seed][0] for seed in (0, 1)]
    _assert_stated(
        "realdata.rst",
        " / ".join(f"{r[0]:.3f}" for r in ten)
        + " against "
        + " / ".join(f"{r[3]:.3f}" for r in ten)
        + " at τ = 2",
        f"{big[0][0]:.3f} / {big[1][0]:.3f} against {big[0][3]:.3f} / {big[1][3]:.3f}",
    )
