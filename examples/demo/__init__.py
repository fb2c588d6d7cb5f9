"""The demo `make demo` runs: see run_demo.py."""
