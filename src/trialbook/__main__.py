"""``python -m trialbook`` runs the command-line interface."""

from trialbook.cli import main

main()
