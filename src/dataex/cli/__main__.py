"""``python -m dataex.cli``."""

from dataex.cli.main import main

main()
