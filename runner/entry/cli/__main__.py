"""`python -m maillab.runner.entry.cli` (the tests and the bench run the CLI so)."""

from . import main

main()
