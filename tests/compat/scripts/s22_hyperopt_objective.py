# compat: slow
# The course's hyperopt objective: one run per evaluation, plain hyperopt.fmin.
import mlflow
import numpy as np
from hyperopt import STATUS_OK, Trials, fmin, hp, tpe
from hyperopt.pyll import scope

mlflow.set_experiment("hyperopt-sweep")


def objective(params):
    with mlflow.start_run():
        mlflow.set_tag("model", "toy")
        mlflow.log_params(params)
        rmse = (params["learning_rate"] - 0.1) ** 2 + params["max_depth"] / 100
        mlflow.log_metric("rmse", rmse)
    return {"loss": rmse, "status": STATUS_OK}


search_space = {
    "max_depth": scope.int(hp.quniform("max_depth", 4, 100, 1)),
    "learning_rate": hp.loguniform("learning_rate", -3, 0),
    "seed": 42,
}
best_result = fmin(fn=objective, space=search_space, algo=tpe.suggest, max_evals=4,
                   trials=Trials(), rstate=np.random.default_rng(42))
