"""The user guide's and the README's Python snippets run as written.

Each page's Python blocks run in order in one fresh namespace, in a
temporary working directory, so a missing import, an undefined name or a
refused parameter fails here. Python blocks are ``.. code-block:: python``
and ``::`` literal blocks in the ``.rst`` pages (other literal text must use
``.. code-block:: none`` or its own language) and ```` ```python ```` fences
in the README. A block that cannot run here is preceded by a visible marker
with its reason::

    .. sklcm-skip-snippet: long training (4 temperatures x 2 folds)

(``<!-- sklcm-skip-snippet: reason -->`` in the README); it is still
compiled, and reported as skipped. A block written as a doctest (``>>>``
prompts) runs as one, so its printed results are checked too.
"""
# License: BSD 3 clause

import doctest
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "user_guide").glob("*.rst"))]
SKIP = re.compile(r"^\s*(?:\.\. |<!-- )sklcm-skip-snippet:\s*(.+?)\s*(?:-->)?$")
DIRECTIVE = re.compile(r"^(\s*)\.\. code-block::\s*(\S+)\s*$")


@dataclass
class Snippet:
    page: Path
    line: int  # 1-based line of the first code line
    code: str
    skip: str | None  # the reason of a skip marker


def _indent(line):
    return len(line) - len(line.lstrip())


def _indented_body(lines, start, base):
    """Lines after ``start`` indented deeper than ``base``, up to the first
    line that is not; directive options (``:name: value``) are dropped."""
    body, i = [], start
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
        body.append(lines[i])
        i += 1
    while body and (not body[0].strip() or body[0].strip().startswith(":")):
        body.pop(0)
        start += 1
    return textwrap.dedent("\n".join(body)).strip() + "\n", start, i


def _rst_snippets(page, lines):
    skip, i = None, 0
    while i < len(lines):
        line = lines[i]
        if match := SKIP.match(line):
            skip = match[1]
        directive = DIRECTIVE.match(line)
        literal = line.rstrip().endswith("::") and not line.lstrip().startswith("..")
        if directive or literal:
            base = _indent(line)
            code, first, i = _indented_body(lines, i + 1, base)
            if literal or directive[2] == "python":
                yield Snippet(page, first + 1, code, skip)
            skip = None
            continue
        i += 1


def _markdown_snippets(page, lines):
    skip, i = None, 0
    while i < len(lines):
        if match := SKIP.match(lines[i]):
            skip = match[1]
        if lines[i].startswith("```"):
            end = lines.index("```", i + 1)
            if lines[i].strip() == "```python":
                yield Snippet(page, i + 2, "\n".join(lines[i + 1 : end]) + "\n", skip)
            skip, i = None, end
        i += 1


def snippets(page):
    """The Python snippets of one page, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    parse = _markdown_snippets if page.suffix == ".md" else _rst_snippets
    return list(parse(page, lines))


_DOCTEST_FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _is_doctest(snippet):
    return snippet.code.lstrip().startswith(">>>")


def _compiled(snippet):
    code = snippet.code
    if _is_doctest(snippet):
        examples = doctest.DocTestParser().get_examples(code)
        code = "".join(example.source for example in examples)
    return compile(code, f"{snippet.page}:{snippet.line}", "exec")


def _run(snippet, namespace):
    """Run one snippet in ``namespace``: a script by ``exec``, a doctest by
    doctest (its expected outputs are compared)."""
    if not _is_doctest(snippet):
        exec(_compiled(snippet), namespace)
        return
    name = f"{snippet.page.name}:{snippet.line}"
    test = doctest.DocTestParser().get_doctest(
        snippet.code, namespace, name, str(snippet.page), snippet.line - 1
    )
    runner = doctest.DocTestRunner(optionflags=_DOCTEST_FLAGS)
    runner.run(test, clear_globs=False)
    namespace.update(test.globs)
    assert runner.failures == 0, f"{name}: {runner.failures} doctest failure(s)"


def _page_params():
    for page in PAGES:
        yield pytest.param(page, id=page.name)


@pytest.mark.parametrize("page", list(_page_params()))
def test_page_snippets_run_as_written(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    for snippet in snippets(page):
        _compiled(snippet)  # a skipped snippet must still be Python
        if snippet.skip is None:
            _run(snippet, namespace)
    check = PAGE_CHECKS.get(page.name)
    if check is not None:
        check(namespace, capsys.readouterr().out)


def _readme_r2_is_high(namespace, out):
    assert float(out.strip().splitlines()[-1]) >= 0.95  # the printed held-out R²


def _stream_ends_the_schedule(namespace, out):
    # the partial_fit stream is sized so that the schedule ends with it
    encoder = namespace["encoder"]
    assert encoder.n_steps_ == encoder.max_steps == 160


def _ica_improves_the_box_encoder(namespace, out):
    # the page states the seed-0 values: 0.847 before the ICA, 0.949 after
    assert namespace["mcc_encoder"] + 0.05 < namespace["mcc_ica"]


# What the text around the snippets says about their results.
PAGE_CHECKS = {
    "README.md": _readme_r2_is_high,
    "encoder.rst": _stream_ends_the_schedule,
    "ica.rst": _ica_improves_the_box_encoder,
}


def _skipped():
    for page in PAGES:
        for s in snippets(page):
            if s.skip is not None:
                yield pytest.param(s, id=f"{page.name}:{s.line}")


@pytest.mark.parametrize("snippet", list(_skipped()))
def test_skipped_snippet_is_reported(snippet):
    pytest.skip(f"{snippet.page.name}:{snippet.line}: {snippet.skip}")


def test_snippet_parser_finds_blocks_markers_and_languages(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text(
        "Text::\n\n    a = 1\n    b = a + 1\n\nMore text.\n\n"
        ".. code-block:: console\n\n   $ python -m sklcm\n\n"
        ".. sklcm-skip-snippet: long training\n\n"
        ".. code-block:: python\n   :caption: x\n\n   import os\n\n"
        "* item::\n\n    c = 3\n"
    )
    found = snippets(page)
    assert [s.code for s in found] == ["a = 1\nb = a + 1\n", "import os\n", "c = 3\n"]
    assert [s.skip for s in found] == [None, "long training", None]
    assert [s.line for s in found] == [3, 17, 21]
    readme = tmp_path / "README.md"
    readme.write_text(
        "```bash\npip install x\n```\n<!-- sklcm-skip-snippet: GPU -->\n"
        "```python\nimport torch\n```\n"
    )
    assert [(s.code, s.skip) for s in snippets(readme)] == [("import torch\n", "GPU")]
