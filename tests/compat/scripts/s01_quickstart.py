# MLflow quickstart style: params, a metric per epoch, tags, all in one run.
import mlflow

mlflow.set_experiment("quickstart")

with mlflow.start_run(run_name="first-run"):
    mlflow.log_param("learning_rate", 0.01)
    mlflow.log_params({"epochs": 3, "optimizer": "adam"})
    for epoch in range(3):
        mlflow.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    mlflow.log_metrics({"accuracy": 0.91, "f1": 0.88})
    mlflow.set_tag("team", "search")
    mlflow.set_tags({"stage": "dev", "owner": "ana"})
