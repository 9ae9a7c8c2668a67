"""The one parser of ``python -m sklcm`` and the one place errors become exit codes."""
# License: BSD 3 clause

import argparse
import sys

from . import _fewshot, _reproduce
from ._arguments import TrainingError, UsageError

# subcommand name -> module with add_parser(subparsers) and run(args)
_COMMANDS = {"reproduce": _reproduce, "fewshot": _fewshot}


def _build_parser():
    """The ``sklcm`` parser and, per subcommand, its own parser."""
    parser = argparse.ArgumentParser(
        prog="sklcm",
        description="sklcm command line.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    return parser, {name: cmd.add_parser(sub) for name, cmd in _COMMANDS.items()}


def main(argv=None):
    """Run the ``sklcm`` command line; return the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success; 2 on bad arguments or input, checked before anything
        is trained (the usage line and the error on stderr); 1 when
        ``fewshot`` fails while fitting (the message names the option to
        change); 130 when ``reproduce`` is interrupted with Ctrl-C (finished
        runs are kept on disk).

    Examples
    --------
    >>> from sklcm.cli import main
    >>> main(["reproduce", "--seeds", "0"])  # doctest: +SKIP
    2
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, subparsers = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed)
        return exc.code
    args.argv = argv
    command = subparsers[args.command]
    try:
        return _COMMANDS[args.command].run(args)
    except UsageError as exc:
        command.print_usage(sys.stderr)
        print(f"{command.prog}: error: {exc}", file=sys.stderr)
        return 2
    except TrainingError as exc:
        print(f"{command.prog}: error: {exc}", file=sys.stderr)
        return 1
