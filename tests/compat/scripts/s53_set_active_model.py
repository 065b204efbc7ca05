# MLflow 3's active model (GenAI-style versioning): set_active_model(name=) then metrics logged
# without model_id= are linked to it; get_active_model_id names it.
import json

import mlflow

mlflow.set_experiment("agent-versions")
active = mlflow.set_active_model(name="support-agent-v1")
active_id = mlflow.get_active_model_id()

with mlflow.start_run():
    mlflow.log_metric("answer_relevance", 0.82)
    mlflow.log_metrics({"latency_s": 1.4, "cost_usd": 0.003})

again = mlflow.set_active_model(name="support-agent-v1")
model = mlflow.get_logged_model(active_id)
json.dump({
    "same_id": active.model_id == active_id == again.model_id,
    "metrics": sorted(m.key for m in model.metrics),
    "found": len(mlflow.search_logged_models(output_format="list")),
}, open("out.json", "w"))
