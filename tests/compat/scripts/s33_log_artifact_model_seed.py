# The seed's "model as an artifact" cell (MLflow 3 refuses the "./" in artifact_path; tracker
# normalises it), then the file read back with download_artifacts.
import json
import os

import mlflow

os.makedirs("path/to", exist_ok=True)
with open("path/to/model", "w") as f:
    f.write("pickled bytes would go here")

with mlflow.start_run() as run:
    mlflow.log_artifact(local_path="./path/to/model", artifact_path="./path/to/artifact")

local = mlflow.tracking.MlflowClient().download_artifacts(run.info.run_id, "path/to/artifact/model",
                                                          "downloaded")
json.dump({"content": open(local).read(),
           "listed": [f.path for f in mlflow.list_artifacts(run.info.run_id, "path/to/artifact")]},
          open("out.json", "w"))
