# log_image with numpy arrays (MLflow's "legacy artifact file" examples).
import mlflow
import numpy as np

image = np.random.randint(0, 256, size=(100, 100, 3), dtype=np.uint8)
mask = np.zeros((32, 32), dtype=bool)
mask[8:24, 8:24] = True

with mlflow.start_run():
    mlflow.log_image(image, "image.png")
    mlflow.log_image(mask, artifact_file="masks/mask.png")
    mlflow.log_image(np.linspace(0, 1, 64).reshape(8, 8), "gradient.png")
np.save("image.npy", image)
