# Nested runs: a parent with one child run per candidate, as in MLflow's docs.
import mlflow

mlflow.set_experiment("nested")

with mlflow.start_run(run_name="parent") as parent:
    mlflow.log_param("search", "grid")
    for alpha in (0.1, 0.5, 1.0):
        with mlflow.start_run(run_name=f"alpha-{alpha}", nested=True):
            mlflow.log_param("alpha", alpha)
            mlflow.log_metric("rmse", 10 * alpha)
    mlflow.log_metric("best_rmse", 1.0)
