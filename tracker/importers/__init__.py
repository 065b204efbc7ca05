"""Importers: bring runs and models logged by other tools into a tracker store.

``tracker.importers.mlflow`` reads an MLflow store (``sqlite:///mlflow.db`` or an ``mlruns``
folder) without MLflow installed; ``tracker import-mlflow`` is its command.
"""
