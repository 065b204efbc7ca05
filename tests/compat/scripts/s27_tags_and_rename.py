# Tags set, overwritten and deleted; a run renamed with the client; a description.
import mlflow
from mlflow.tracking import MlflowClient

with mlflow.start_run(run_name="draft", description="first try") as run:
    mlflow.set_tag("status", "wip")
    mlflow.set_tag("status", "done")
    mlflow.set_tag("temporary", "x")
    mlflow.delete_tag("temporary")

MlflowClient().update_run(run.info.run_id, name="final")
