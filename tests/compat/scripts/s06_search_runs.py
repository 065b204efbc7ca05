# search_runs with a filter and order_by, as DataFrame and as list.
import json

import mlflow

mlflow.set_experiment("search")
for depth, rmse in [(2, 7.5), (4, 5.0), (8, 6.1), (16, 9.9)]:
    with mlflow.start_run():
        mlflow.log_param("max_depth", depth)
        mlflow.log_metric("rmse", rmse)
        mlflow.set_tag("model", "tree")

df = mlflow.search_runs(filter_string="metrics.rmse < 7 and tags.model = 'tree'",
                        order_by=["metrics.rmse ASC"])
best = mlflow.search_runs(order_by=["metrics.rmse ASC"], max_results=1, output_format="list")[0]
everything = mlflow.search_runs(search_all_experiments=True)
json.dump({
    "depths": list(df["params.max_depth"]),
    "best": best.data.params["max_depth"],
    "columns": list(df.columns[:6]),
    "all": len(everything),
}, open("out.json", "w"))
