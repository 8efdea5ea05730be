"""The pipeline spec: pydantic model and YAML loader. Imports neither Airflow nor data libraries."""

from airfoil.spec.loader import load_spec, parse_spec
from airfoil.spec.model import PipelineSpec

__all__ = ["PipelineSpec", "load_spec", "parse_spec"]
