# compat: slow
# MLflow 3: register a logged model from its models:/<model_id> URI and load it by model id,
# by registered version, and through the sklearn flavor.
import json

import mlflow
import numpy as np
from sklearn.linear_model import LinearRegression

X = np.arange(30, dtype=float).reshape(15, 2)
y = X[:, 0] * 3

with mlflow.start_run():
    model = LinearRegression().fit(X, y)
    model_info = mlflow.sklearn.log_model(model, name="tree")

version = mlflow.register_model(model_info.model_uri, "tree-model")
by_id = mlflow.pyfunc.load_model(model_info.model_uri)
by_version = mlflow.pyfunc.load_model(f"models:/tree-model/{version.version}")
native = mlflow.sklearn.load_model(f"models:/{model_info.model_id}")
json.dump({
    "version": int(version.version),
    "same": by_id.predict(X).tolist() == by_version.predict(X).tolist()
    == native.predict(X).tolist(),
    "run_matches": version.run_id == model_info.run_id,
}, open("out.json", "w"))
