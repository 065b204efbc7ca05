# MLflow Projects: not part of tracker; the error says what to do instead.
import json

import mlflow
import mlflow.projects
from mlflow.exceptions import MlflowException

try:
    mlflow.projects.run(".", entry_point="main", parameters={"alpha": 0.5})
    outcome = "ran"
except MlflowException as e:
    outcome = str(e)
json.dump({"outcome": outcome}, open("out.json", "w"))
