# A run whose block raises is FAILED; end_run with a status string; RunStatus names.
import json

import mlflow
from mlflow.entities import RunStatus

try:
    with mlflow.start_run(run_name="crashes"):
        mlflow.log_param("x", 1)
        raise ValueError("training diverged")
except ValueError:
    pass

mlflow.start_run(run_name="killed")
mlflow.end_run(status=RunStatus.to_string(RunStatus.KILLED))
json.dump({"terminated": RunStatus.is_terminated(RunStatus.FAILED)}, open("out.json", "w"))
