# MLflow's import paths for entities, the client and paged results.
import json

import mlflow
from mlflow.entities import ViewType
from mlflow.entities.experiment import Experiment
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.entities.run import Run
from mlflow.entities.view_type import ViewType as ViewType2
from mlflow.store.entities import PagedList
from mlflow.tracking.client import MlflowClient
from mlflow.tracking.client import ViewType as ViewType3

with mlflow.start_run():
    mlflow.log_metric("m", 1.0)

client = MlflowClient()
runs = client.search_runs(experiment_ids=["0"], run_view_type=ViewType.ACTIVE_ONLY)
models = client.search_registered_models()
json.dump({
    "paged": isinstance(runs, PagedList) and isinstance(models, PagedList),
    "token": runs.token,
    "run": isinstance(runs[0], Run),
    "experiment": isinstance(client.get_experiment("0"), Experiment),
    "viewtype": ViewType is ViewType2 is ViewType3,
    "registry": [ModelVersion.__name__, RegisteredModel.__name__],
}, open("out.json", "w"))
