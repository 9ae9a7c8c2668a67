"""Entry point of ``python -m sklcm``."""

from sklcm.cli import main

raise SystemExit(main())
