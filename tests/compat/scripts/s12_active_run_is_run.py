# The object start_run returns is a Run: isinstance, _info/_data, to_dictionary.
import json

import mlflow
from mlflow.entities import Run

run = mlflow.start_run(run_name="active")
mlflow.log_param("p", 1)
facts = {
    "is_run": isinstance(run, Run),
    "same_info": run._info.run_id == run.info.run_id,
    "status": run.to_dictionary()["info"]["status"],
    "name_tag": run._data.tags.get("mlflow.runName"),
    "active": mlflow.active_run().info.run_id == run.info.run_id,
}
mlflow.end_run()
facts["last"] = mlflow.last_active_run().info.status
json.dump(facts, open("out.json", "w"))
