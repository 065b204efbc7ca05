# Experiments chosen by id, numbered as in MLflow's database (Default is 0, then 1, 2).
import json

import mlflow

mlflow.set_tracking_uri("sqlite:///mlflow.db")
mlflow.create_experiment("first-experiment")
mlflow.create_experiment("second-experiment")
with mlflow.start_run(experiment_id="2"):
    mlflow.log_metric("m", 1.0)
mlflow.set_experiment(experiment_id="1")
with mlflow.start_run():
    mlflow.log_metric("m", 2.0)
json.dump({"second": len(mlflow.search_runs(experiment_ids=["2"]))}, open("out.json", "w"))
