# Experiments with tags, searched with a filter; set_experiment_tag; get by name.
import json

import mlflow
from mlflow.tracking import MlflowClient

client = MlflowClient()
client.create_experiment("exp-a", tags={"team": "vision"})
client.create_experiment("exp-b", tags={"team": "nlp"})
mlflow.set_experiment("exp-b")
mlflow.set_experiment_tag("priority", "high")

vision = mlflow.search_experiments(filter_string="tags.team = 'vision'")
exp_b = mlflow.get_experiment_by_name("exp-b")
json.dump({"vision": [e.name for e in vision], "b_tags": exp_b.tags,
           "b_dict": sorted(dict(exp_b))}, open("out.json", "w"))
