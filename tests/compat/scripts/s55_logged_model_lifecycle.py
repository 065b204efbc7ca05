# compat: slow
# MLflow 3: two models logged at one step share its metrics, registered versions carry their
# logged model's id, search_runs lists each run's model outputs, a logged model is deleted,
# and a name MLflow 3 refuses is refused.
import json

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LinearRegression, Ridge

X = np.arange(30, dtype=float).reshape(15, 2)
y = X[:, 0] * 3

mlflow.set_experiment("lifecycle")
with mlflow.start_run() as run:
    mlflow.log_metric("train_rmse", 0.5)
    linear = mlflow.sklearn.log_model(LinearRegression().fit(X, y), name="linear",
                                      registered_model_name="regressor")
    ridge = mlflow.sklearn.log_model(Ridge().fit(X, y), name="ridge")
    mlflow.log_metrics({"val_rmse": 0.7})  # both models were logged at step 0: linked to each
    mlflow.log_metric("test_rmse", 0.9)  # log_metric: to the first of them only

client = MlflowClient()
from_run = mlflow.register_model(f"runs:/{run.info.run_id}/ridge", "regressor")
from_id = mlflow.register_model(ridge.model_uri, "regressor")
(found,) = client.search_runs([run.info.experiment_id])


def metric_keys(model_id):
    return sorted(m.key for m in client.get_logged_model(model_id).metrics)


ridge_metrics = metric_keys(ridge.model_id)
client.delete_logged_model(ridge.model_id)
try:
    client.get_logged_model(ridge.model_id)
    deleted_hidden = False
except MlflowException:
    deleted_hidden = True
try:
    mlflow.initialize_logged_model(name="ridge.v2")
    bad_name_refused = False
except MlflowException:
    bad_name_refused = True

json.dump({
    "versions": [client.get_model_version("regressor", v).model_id == m
                 for v, m in ((1, linear.model_id), (from_run.version, ridge.model_id),
                              (from_id.version, ridge.model_id))],
    "outputs": sorted(o.model_id for o in found.outputs.model_outputs)
    == sorted([linear.model_id, ridge.model_id]),
    "linear_metrics": metric_keys(linear.model_id),
    "ridge_metrics": ridge_metrics,
    "searched": [m.name for m in mlflow.search_logged_models(output_format="list")],
    "deleted_hidden": deleted_hidden,
    "bad_name_refused": bad_name_refused,
}, open("out.json", "w"))
