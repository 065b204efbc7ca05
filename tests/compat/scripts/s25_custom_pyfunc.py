# A custom PythonModel with an artifact, logged, loaded and used to predict.
import json

import mlflow
import pandas as pd


class AddN(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["config"]) as f:
            self.n = json.load(f)["n"]

    def predict(self, context, model_input, params=None):
        return model_input.apply(lambda column: column + self.n)


with open("config.json", "w") as f:
    json.dump({"n": 5}, f)

with mlflow.start_run():
    model_info = mlflow.pyfunc.log_model(
        name="add_n_model",
        python_model=AddN(),
        artifacts={"config": "config.json"},
        input_example=pd.DataFrame({"x": [1.0, 2.0]}),
    )

loaded_model = mlflow.pyfunc.load_model(model_info.model_uri)
result = loaded_model.predict(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))
json.dump({"x": list(result["x"])}, open("out.json", "w"))
