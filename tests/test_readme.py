"""The README's quick start runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_runs(capsys):
    text = README.read_text()
    block = re.search(r"## Quick start\s+```python\n(.*?)```", text, re.S).group(1)
    exec(compile(block, str(README), "exec"), {})
    r2 = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert r2 >= 0.95
