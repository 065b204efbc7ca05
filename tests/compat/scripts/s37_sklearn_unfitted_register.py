# A template estimator logged before training and registered (MLflow logs unfitted estimators).
import json

import mlflow
from sklearn.ensemble import RandomForestClassifier
from sklearn.datasets import load_iris

with mlflow.start_run():
    template = RandomForestClassifier(n_estimators=5, random_state=0)
    info = mlflow.sklearn.log_model(template, name="template",
                                    registered_model_name="rf-template")

loaded = mlflow.sklearn.load_model("models:/rf-template/1")
X, y = load_iris(return_X_y=True)
loaded.fit(X, y)
with open("out.json", "w") as fh:
    json.dump({"version": info.registered_model_version,
               "n_estimators": loaded.get_params()["n_estimators"],
               "classes": sorted(int(c) for c in loaded.classes_)}, fh)
