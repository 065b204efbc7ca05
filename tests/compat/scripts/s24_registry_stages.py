# The course's registry notebook: register, promote to Production, describe the version.
import mlflow
from mlflow.tracking import MlflowClient


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2


mlflow_tracking_uri = "sqlite:///mlflow.db"
mlflow.set_tracking_uri(mlflow_tracking_uri)
with mlflow.start_run() as run:
    mlflow.pyfunc.log_model(name="model", python_model=Doubler())
run_id = run.info.run_id

model_uri = "runs:/{}/model".format(run_id)
model_name = "my_model_name"
mlflow.register_model(model_uri=model_uri, name=model_name)
mlflow.register_model(model_uri=model_uri, name=model_name)

client = MlflowClient(tracking_uri=mlflow_tracking_uri)
client.transition_model_version_stage(name=model_name, version=1, stage="Staging")
latest_version = client.get_latest_versions(model_name, stages=["Staging"])[0].version
client.transition_model_version_stage(name=model_name, version=latest_version, stage="Production")
client.update_model_version(
    name=model_name,
    version=latest_version,
    description=f"Model '{model_name}' version {latest_version} transitioned to 'Production'.",
)
client.set_registered_model_alias(model_name, "champion", 2)
