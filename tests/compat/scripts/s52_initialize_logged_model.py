# MLflow 3: a logged model created before its files exist (initialize_logged_model), tagged,
# given params, then finalized; the client's logged-model methods.
import json

import mlflow
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus

client = MlflowClient()
experiment_id = mlflow.set_experiment("external-models").experiment_id

model = mlflow.initialize_logged_model(name="llm-judge", model_type="agent",
                                       tags={"owner": "ana"})
pending = model.status
mlflow.log_model_params({"temperature": "0.2"}, model_id=model.model_id)
mlflow.set_logged_model_tags(model.model_id, {"reviewed": "yes", "tmp": "1"})
mlflow.delete_logged_model_tag(model.model_id, "tmp")
final = mlflow.finalize_logged_model(model.model_id, LoggedModelStatus.READY)

other = client.create_logged_model(experiment_id, name="baseline")
client.set_logged_model_tags(other.model_id, {"owner": "bo"})
client.finalize_logged_model(other.model_id, "FAILED")
page = client.search_logged_models(experiment_ids=[experiment_id],
                                   filter_string="status = 'READY'")
json.dump({
    "pending": str(pending),
    "final": str(final.status),
    "params": final.params,
    "tags": {k: v for k, v in final.tags.items() if not k.startswith("mlflow.")},
    "ready": [m.name for m in page],
    "other": str(client.get_logged_model(other.model_id).status),
    "uri_ok": final.model_uri == f"models:/{model.model_id}",
}, open("out.json", "w"))
