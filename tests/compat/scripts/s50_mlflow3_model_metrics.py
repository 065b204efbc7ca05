# compat: slow
# MLflow 3 "model-centric" tracking as in MLflow 3's docs: log a model with params, evaluate it
# on two datasets with log_metrics(model_id=, dataset=), then read the LoggedModel back.
import json

import mlflow
import numpy as np
import pandas as pd
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_squared_error

rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
y = X["a"] * 2 - X["b"] + rng.normal(scale=0.1, size=60)
train_x, test_x, train_y, test_y = X[:40], X[40:], y[:40], y[40:]

mlflow.set_experiment("mlflow3-models")
with mlflow.start_run() as run:
    params = {"alpha": 0.1, "l1_ratio": 0.5}
    lr = ElasticNet(**params).fit(train_x, train_y)
    model_info = mlflow.sklearn.log_model(sk_model=lr, name="elasticnet", params=params,
                                          input_example=train_x)
    train_dataset = mlflow.data.from_pandas(train_x.assign(y=train_y), name="train_dataset")
    eval_dataset = mlflow.data.from_pandas(test_x.assign(y=test_y), name="eval_dataset")
    for dataset, features, target in ((train_dataset, train_x, train_y),
                                      (eval_dataset, test_x, test_y)):
        rmse = float(np.sqrt(mean_squared_error(target, lr.predict(features))))
        mlflow.log_metrics(metrics={"rmse": rmse}, step=1, model_id=model_info.model_id,
                           dataset=dataset)

logged_model = mlflow.get_logged_model(model_info.model_id)
json.dump({
    "model_uri": model_info.model_uri,
    "name": logged_model.name,
    "status": str(logged_model.status),
    "params": logged_model.params,
    "source_run_id_ok": logged_model.source_run_id == run.info.run_id,
    "metrics": sorted([m.key, m.dataset_name, m.step] for m in logged_model.metrics),
}, open("out.json", "w"))
