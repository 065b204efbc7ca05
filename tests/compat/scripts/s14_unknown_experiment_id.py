# An experiment id that does not exist: MLflow returns no runs; tracker says what exists.
import json

import mlflow
from mlflow.exceptions import MlflowException

mlflow.set_experiment("real-one")
with mlflow.start_run():
    mlflow.log_metric("rmse", 1.0)

try:
    runs = mlflow.search_runs(experiment_ids=["17"])
    outcome = f"no error, {len(runs)} runs"
except MlflowException as e:
    outcome = str(e)
json.dump({"outcome": outcome}, open("out.json", "w"))
