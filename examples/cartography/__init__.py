"""The CLINC150 cartography example (seed 001): see README.md and docs/cartography.md."""
