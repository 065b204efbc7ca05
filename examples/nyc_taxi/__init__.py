"""The NYC green-taxi example: the MLflow course's workflow on ``import tracker as mlflow``.

Run it with ``python -m examples.nyc_taxi`` (``make demo``); see ``README.md`` beside this file.
"""
