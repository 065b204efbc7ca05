# Datasets: mlflow.data.from_pandas and log_input with a context.
import mlflow
import pandas as pd

df = pd.DataFrame({"trip_distance": [1.2, 3.4, 0.5], "duration": [7.0, 15.0, 3.0]})
dataset = mlflow.data.from_pandas(df, source="data/green_tripdata_2021-01.parquet",
                                  name="green-2021-01", targets="duration")
with mlflow.start_run():
    mlflow.log_input(dataset, context="training")
