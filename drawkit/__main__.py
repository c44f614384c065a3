"""Run the drawkit command: ``python -m drawkit``."""

from drawkit.cli import main

raise SystemExit(main())
