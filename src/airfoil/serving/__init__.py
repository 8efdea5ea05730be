"""The prediction API: the champion of every pipeline, hot-swapped, over OIP v2 and MLflow formats."""
