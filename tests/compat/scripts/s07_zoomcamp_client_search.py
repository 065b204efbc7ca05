# The course's client notebook: experiment '1' by MLflow's numbering, ViewType from entities.
import json

from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

import mlflow

MLFLOW_TRACKING_URI = "sqlite:///mlflow.db"
mlflow.set_tracking_uri(MLFLOW_TRACKING_URI)
mlflow.set_experiment("nyc-taxi-experiment")
for rmse in (6.3, 7.2, 6.9):
    with mlflow.start_run():
        mlflow.log_metric("rmse", rmse)

client = MlflowClient(tracking_uri=MLFLOW_TRACKING_URI)
runs = client.search_runs(
    experiment_ids='1',
    filter_string="metrics.rmse < 7",
    run_view_type=ViewType.ACTIVE_ONLY,
    max_results=5,
    order_by=["metrics.rmse ASC"],
)
for run in runs:
    print(f"run id: {run.info.run_id}, rmse: {run.data.metrics['rmse']:.4f}")
json.dump([run.data.metrics["rmse"] for run in runs], open("out.json", "w"))
