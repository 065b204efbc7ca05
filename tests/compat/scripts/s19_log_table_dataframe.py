# log_table with a DataFrame, appended by a second call; load_table over the experiment.
import json

import mlflow
import pandas as pd

mlflow.set_experiment("eval-tables")
for model in ("small", "large"):
    with mlflow.start_run(run_name=model):
        df = pd.DataFrame({"question": ["q1", "q2"], "score": [0.5, 0.75]})
        mlflow.log_table(data=df, artifact_file="eval/results.json")
        mlflow.log_table(data=pd.DataFrame({"question": ["q3"], "score": [1.0]}),
                         artifact_file="eval/results.json")

loaded = mlflow.load_table("eval/results.json", extra_columns=["run_id"])
json.dump({"rows": len(loaded), "columns": list(loaded.columns),
           "runs": loaded["run_id"].nunique()}, open("out.json", "w"))
