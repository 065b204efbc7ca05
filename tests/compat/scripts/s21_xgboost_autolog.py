# compat: slow
# The course's XGBoost cell: autolog, xgb.train on DMatrix with early stopping.
import mlflow
import numpy as np
import xgboost as xgb

rng = np.random.default_rng(0)
X = rng.normal(size=(300, 4))
y = X @ [1.0, 2.0, 0.0, -1.0] + rng.normal(scale=0.1, size=300)
train = xgb.DMatrix(X[:200], label=y[:200])
valid = xgb.DMatrix(X[200:], label=y[200:])

mlflow.set_experiment("nyc-taxi-experiment")
mlflow.xgboost.autolog()
with mlflow.start_run():
    params = {"max_depth": 3, "learning_rate": 0.3, "objective": "reg:squarederror",
              "seed": 42, "nthread": 1}
    booster = xgb.train(params=params, dtrain=train, num_boost_round=20,
                        evals=[(valid, "validation")], early_stopping_rounds=5)
