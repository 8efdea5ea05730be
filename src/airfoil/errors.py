"""Errors a user can hit. Each message says what is wrong and what to change."""

from __future__ import annotations


class AirfoilError(Exception):
    """Base class for every error airfoil reports to a user."""


class Unavailable(AirfoilError):
    """A service airfoil needs (the prediction store's database, a lock in it) does not answer now.
    Unlike the other errors it may fix itself: an Airflow task retries it instead of failing at once."""


class SpecError(AirfoilError):
    """The pipeline spec is malformed or names something that does not exist."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: the pipeline spec is not valid:\n{lines}")


class DataError(AirfoilError):
    """The data does not fit the spec (missing target, empty, unreadable)."""


class DataValidationError(DataError):
    """The data broke declared validation rules; `failures` lists every broken rule."""

    def __init__(self, pipeline: str, failures: list[str], report_uri: str | None = None):
        self.failures = failures
        self.report_uri = report_uri
        lines = "\n".join(f"  - {f}" for f in failures)
        where = f"\nFull report: {report_uri}" if report_uri else ""
        super().__init__(
            f"pipeline {pipeline!r}: the data failed {len(failures)} validation rule(s); "
            f"training did not start:\n{lines}{where}"
        )


class RegistryError(AirfoilError):
    """A registry operation cannot be done (unknown model, version, no champion...)."""


class UnsafeModelError(RegistryError):
    """A model artifact failed its integrity or safety check and was not loaded."""
