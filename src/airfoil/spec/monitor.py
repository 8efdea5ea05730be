"""The `monitor:` section of `pipeline.yaml`: drift tests and thresholds, live metrics from labels,
alerts and retraining. Unknown fields are errors, as everywhere in the spec."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LIVE_CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DRIFT_TESTS = ("auto", "ks", "chi2", "psi", "js")
DriftTest = Literal["auto", "ks", "chi2", "psi", "js"]


class FeatureDrift(_Strict):
    """One feature's own test and threshold (`monitor.drift.features.<name>`)."""

    test: DriftTest = "auto"
    threshold: float | None = Field(None, gt=0, description="default: the test's own (see monitor.drift)")


class Drift(_Strict):
    """When a feature (or the predictions) counts as drifted; see docs/monitor.md for the defaults."""

    test: DriftTest = Field(
        "auto", description="auto: KS (numeric) or chi-square (categorical) with an effect-size floor"
    )
    threshold: float | None = Field(
        None, gt=0, description="p-value for auto/ks/chi2 (0.05), distance for psi (0.2) and js (0.1)"
    )
    min_psi: float = Field(0.1, ge=0, description="auto: a significant change must also move PSI this far")
    correction: Literal["fdr", "bonferroni", "none"] = Field(
        "fdr", description="false alarms across features: Benjamini-Hochberg FDR, Bonferroni, or none"
    )
    drift_share: float = Field(0.5, gt=0, le=1, description="dataset drift: this share of features drifts")
    alert_features: int = Field(1, ge=1, description="alert when at least this many features drift")
    min_rows: int = Field(100, ge=1, description="windows with fewer scored rows are described, not judged")
    predictions: bool = Field(True, description="alert when the predictions drift")
    features: dict[str, FeatureDrift] = {}

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `drift: {psi: 0.2}` means: PSI for every feature, drifted at 0.2.
        if isinstance(value, dict) and len(value) == 1:
            ((test, threshold),) = value.items()
            if test in DRIFT_TESTS and isinstance(threshold, int | float):
                return {"test": test, "threshold": threshold}
        return value


class Labels(_Strict):
    """Where true values arrive: a file/glob/fsspec URL or a query, with the row key and the truth."""

    path: str | None = Field(None, description="CSV/Parquet/JSON path or glob; relative to the spec file")
    format: Literal["csv", "parquet", "json"] | None = None
    sql: str | None = None
    conn: str | None = None
    key: str = Field(description="the column matching deploy.batch.key of the scored rows")
    target: str | None = Field(None, description="column of the true value; default: the spec's target")

    @model_validator(mode="after")
    def _one_source(self) -> Labels:
        if (self.path is None) == (self.sql is None):
            raise ValueError("monitor.labels: give either `path` or `sql` (with `conn`)")
        if self.sql is not None and self.conn is None:
            raise ValueError("monitor.labels.sql needs `conn`: the SQLAlchemy URL to run it on")
        return self


class Webhook(_Strict):
    conn_id: str = Field("http_default", description="Airflow HTTP connection of the receiver")
    endpoint: str | None = None
    method: Literal["POST", "PUT"] = "POST"


class Email(_Strict):
    to: Annotated[list[str], Field(min_length=1)]
    conn_id: str | None = Field(None, description="Airflow SMTP connection; default [email] email_conn_id")
    from_email: str | None = None


class Alert(_Strict):
    """Where alerts go besides the log: Airflow's HTTP and SMTP notifiers."""

    webhook: Webhook | None = None
    email: Email | None = None


class Monitor(_Strict):
    """`<name>__monitor`: drift of inputs and predictions, live metrics from labels, alerts, retraining."""

    schedule: str | None = Field(None, description="cron or preset; null: run by hand or after batch runs")
    drift: Drift = Drift()
    min: dict[str, float] = Field({}, description="alert when a live metric falls under this")
    max: dict[str, float] = Field({}, description="alert when a live metric rises above this")
    labels: Labels | None = None
    alert: Alert = Alert()
    retrain_on_drift: bool = Field(False, description="on a drift alert, emit airfoil://<name>/drift")
