# Soft delete and restore; searches by view type.
import json

import mlflow
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

experiment = mlflow.set_experiment("cleanup")
ids = []
for i in range(3):
    with mlflow.start_run() as run:
        mlflow.log_metric("i", i)
    ids.append(run.info.run_id)

client = MlflowClient()
client.delete_run(ids[0])
mlflow.delete_run(ids[1])
client.restore_run(ids[1])
counts = {
    "active": len(mlflow.search_runs(run_view_type=ViewType.ACTIVE_ONLY)),
    "deleted": len(mlflow.search_runs(run_view_type=ViewType.DELETED_ONLY)),
    "all": len(client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)),
}
json.dump(counts, open("out.json", "w"))
