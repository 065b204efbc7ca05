# MLflow 1.x: list_run_infos, paging with the token.
import json

from mlflow.tracking import MlflowClient

import mlflow

experiment = mlflow.set_experiment("infos")
for i in range(3):
    with mlflow.start_run(run_name=f"run-{i}"):
        mlflow.log_param("i", i)

client = MlflowClient()
page = client.list_run_infos(experiment.experiment_id, max_results=2)
names = [info.run_name for info in page]
if page.token:
    names += [info.run_name for info in client.list_run_infos(
        experiment.experiment_id, max_results=2, page_token=page.token)]
fluent = [info.run_id for info in mlflow.list_run_infos(experiment.experiment_id)]
json.dump({"names": sorted(names), "fluent": len(fluent), "uuid": page[0].run_uuid == page[0].run_id},
          open("out.json", "w"))
