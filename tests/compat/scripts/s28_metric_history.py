# A training curve, read back with get_metric_history.
import json

import mlflow
from mlflow.tracking import MlflowClient

with mlflow.start_run() as run:
    for step in range(5):
        mlflow.log_metric("train_loss", 1.0 / (step + 1), step=step)

history = MlflowClient().get_metric_history(run.info.run_id, "train_loss")
json.dump([[m.step, m.value] for m in history], open("out.json", "w"))
