# MLflow 1.x notebooks: list_experiments on the client and as a fluent call.
import json

from mlflow.tracking import MlflowClient

import mlflow

mlflow.set_experiment("old-course")
with mlflow.start_run():
    mlflow.log_metric("rmse", 1.0)

client = MlflowClient()
names = sorted(e.name for e in client.list_experiments())
again = sorted(e.name for e in mlflow.list_experiments())
client.list_experiments()
json.dump({"client": names, "fluent": again}, open("out.json", "w"))
