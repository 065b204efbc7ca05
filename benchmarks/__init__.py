"""Performance figures for the README: tracker next to MLflow (``python -m benchmarks``).

Every measurement runs in a fresh subprocess (``benchmarks.worker``) with a temporary store, so
import and start-up costs are counted the way a user meets them. This package imports only the
standard library, so the MLflow side can run under another interpreter that has no ``tracker``.
See ``benchmarks/README.md`` for what each figure means and how it is measured.
"""
