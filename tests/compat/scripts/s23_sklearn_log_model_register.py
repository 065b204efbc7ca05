# compat: slow
# Log a scikit-learn model, register it, load it back as pyfunc and predict.
import json

import mlflow
import numpy as np
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression

X = np.arange(20, dtype=float).reshape(10, 2)
y = X.sum(axis=1)
model = LinearRegression().fit(X, y)

with mlflow.start_run() as run:
    signature = infer_signature(X, model.predict(X))
    info = mlflow.sklearn.log_model(model, name="model", signature=signature,
                                    registered_model_name="linear")
loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
same = mlflow.sklearn.load_model("models:/linear/1")
json.dump({"pred": [float(v) for v in loaded.predict(X[:2])],
           "coef": [float(c) for c in same.coef_],
           "uri": info.model_uri.startswith("runs:/") or info.model_uri.startswith("models:/")},
          open("out.json", "w"))
