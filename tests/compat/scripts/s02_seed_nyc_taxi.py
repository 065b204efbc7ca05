# compat: slow
# The course notebook (week 2): sqlite URI, a Lasso baseline, the model saved as an artifact.
import os
import pickle

import mlflow
import numpy as np
from sklearn.linear_model import Lasso
from sklearn.metrics import root_mean_squared_error

mlflow.set_tracking_uri("sqlite:///mlflow.db")
mlflow.set_experiment("nyc-taxi-experiment")

rng = np.random.default_rng(1)
X_train, X_val = rng.normal(size=(200, 3)), rng.normal(size=(50, 3))
y_train, y_val = X_train @ [3.0, -1.0, 0.5] + 10, X_val @ [3.0, -1.0, 0.5] + 10

with mlflow.start_run():
    mlflow.set_tag("developer", "me")
    mlflow.log_param("train_data_path", "./data/green_tripdata_2021-01.parquet")
    mlflow.log_param("valid_data_path", "./data/green_tripdata_2021-02.parquet")
    alpha = 0.01
    mlflow.log_param("alpha", alpha)
    lr = Lasso(alpha)
    lr.fit(X_train, y_train)
    y_pred = lr.predict(X_val)
    rmse = root_mean_squared_error(y_val, y_pred)
    mlflow.log_metric("rmse", rmse)

    os.makedirs("models", exist_ok=True)
    with open("models/lin_reg.bin", "wb") as f_out:
        pickle.dump(lr, f_out)
    mlflow.log_artifact(local_path="models/lin_reg.bin", artifact_path="models_pickle")
