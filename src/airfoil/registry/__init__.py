"""MLflow-backed registry: register, gate, promote, rollback, list and safely load versions."""
