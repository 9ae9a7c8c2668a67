"""The ``sklcm`` command line (``python -m sklcm``, or the ``sklcm`` script).

One parser with one module per subcommand: ``_reproduce.py`` (the paper's
synthetic table, :mod:`sklcm.experiments`) and ``_fewshot.py`` (the
few-shot protocol on your features, :mod:`sklcm.evaluation`). The argument
types and the usage error they share live in ``_arguments.py``; ``_main.py``
parses and turns errors into exit codes (2: bad arguments or input, 1: a
failure while training). Nothing here does science of its own.
"""
# License: BSD 3 clause

from ._main import main

__all__ = ["main"]
