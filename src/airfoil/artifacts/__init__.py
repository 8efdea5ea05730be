"""File formats and integrity: Parquet/JSON with sha256, model files (skops), ONNX export and parity."""
