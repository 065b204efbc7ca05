# MLflow 3: time-stepped images, one per epoch under a key.
import mlflow
import numpy as np

with mlflow.start_run():
    for epoch in range(3):
        prediction = np.full((16, 16, 3), epoch * 100, dtype=np.uint8)
        mlflow.log_image(prediction, key="val/prediction", step=epoch)
