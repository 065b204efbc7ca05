# MlflowClient, explicit ids: create an experiment and a run, log a batch, end the run.
import time

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

client = MlflowClient()
experiment_id = client.create_experiment("client-batch", tags={"project": "demo"})
run = client.create_run(experiment_id, run_name="batch")
now = int(time.time() * 1000)
client.log_batch(
    run.info.run_id,
    metrics=[Metric("mse", 0.5, now, 0), Metric("mse", 0.25, now, 1)],
    params=[Param("depth", "4")],
    tags=[RunTag("kind", "batch")],
)
client.log_param(run.info.run_id, "seed", 42)
client.log_metric(run.info.run_id, "mae", 0.3, step=1)
client.set_tag(run.info.run_id, "reviewed", "no")
client.set_terminated(run.info.run_id)
