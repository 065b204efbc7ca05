# Entities as dictionaries: Run.to_dictionary(), RunData.to_dictionary(), dict(run.info).
import mlflow

with mlflow.start_run(run_name="as-dict") as run:
    mlflow.log_param("alpha", 0.3)
    mlflow.log_metric("rmse", 2.5)

finished = mlflow.get_run(run.info.run_id)
mlflow.start_run(run_id=run.info.run_id)
mlflow.log_dict(finished.to_dictionary(), "run.json")
mlflow.log_dict(finished.data.to_dictionary(), "data.json")
mlflow.log_dict(dict(finished.info), "info.json")
mlflow.end_run()
