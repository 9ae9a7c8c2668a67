"""Entry point of ``python -m sklcm``."""

from sklcm._cli import main

raise SystemExit(main())
