"""The benchmark: ``python -m bench --help``. README.md explains what it measures."""
