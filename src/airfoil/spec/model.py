"""The structure of `pipeline.yaml`. Unknown fields are errors, so typos never pass silently."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from airfoil.spec.monitor import LIVE_CLASSIFICATION_METRICS, Monitor

PIPELINE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # also the API's rule for {name}
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlSource(_Strict):
    sql: str
    conn: str = Field(description="SQLAlchemy URL of the database to read from")


def _has_sql(value: Any) -> bool:
    return isinstance(value, SqlSource) or "sql" in value


class FileSource(_Strict):
    path: str = Field(description="CSV/Parquet/JSON path, glob or fsspec URL; relative to the spec file")
    format: Literal["csv", "parquet", "json"] | None = None


class Impute(_Strict):
    numeric: Literal["mean", "median", "constant"] = "median"
    categorical: Literal["most_frequent", "constant"] = "most_frequent"
    fill_value: float | str | None = None


class Prepare(_Strict):
    drop_duplicates: bool = False
    drop_columns: list[str] = []
    impute: Impute = Impute()
    encode: Literal["onehot", "ordinal"] = "onehot"
    max_categories: int = Field(20, ge=2)
    scale: Literal["standard", "minmax", "robust", "none"] = "standard"
    steps: list[str] = Field([], description='row-level functions, "module:function", DataFrame -> DataFrame')

    @field_validator("steps")
    @classmethod
    def _callables(cls, steps: list[str]) -> list[str]:
        for s in steps:
            if not _CALLABLE.match(s):
                raise ValueError(f'{s!r} is not of the form "package.module:function"')
        return steps


class ColumnRule(_Strict):
    type: Literal["number", "integer", "string", "boolean", "datetime"] | None = None
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None
    nullable: bool = True


class Validate(_Strict):
    columns: dict[str, ColumnRule] = {}
    max_null_fraction: float = Field(1.0, ge=0.0, le=1.0)
    min_rows: int = Field(1, ge=1)


class Split(_Strict):
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    stratify: bool = False
    seed: int = 42
    by: str | None = Field(None, description="column for a time-based split")
    test_after: date | str | float | None = Field(
        None, description="rows with `by` after this go to the test set"
    )

    @model_validator(mode="after")
    def _time_split(self) -> Split:
        if self.by is not None and self.stratify:
            raise ValueError("a time-based split (`by`) cannot also be stratified; drop `stratify`")
        if self.test_after is not None and self.by is None:
            raise ValueError("`test_after` needs `by`: the column holding the time")
        return self


class Candidate(_Strict):
    estimator: str
    params: dict[str, list[Any]] = {}

    @field_validator("estimator")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _IMPORT_PATH.match(value):
            raise ValueError(
                f"{value!r} is not an import path such as sklearn.linear_model.LogisticRegression"
            )
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _listify(cls, params: Any) -> Any:
        # `C: 1` means a grid of one value: the common shorthand.
        if isinstance(params, dict):
            return {k: v if isinstance(v, list) else [v] for k, v in params.items()}
        return params


class Train(_Strict):
    metric: str | None = None
    cv: int = Field(5, ge=2, le=20)
    search: Literal["grid", "random"] = "grid"
    n_iter: int = Field(10, ge=1, description="parameter settings sampled by random search")
    positive_class: str | int | bool | None = Field(None, description="class binary metrics are about")
    n_jobs: int = Field(-1, description="parallel CV fits; -1 = all cores")
    candidates: Annotated[list[Candidate], Field(min_length=1)]


class Gate(_Strict):
    min: dict[str, float] = {}
    max: dict[str, float] = {}
    beat_champion_by: float | None = Field(
        0.0,
        description="the new version must beat the champion's selection metric by this much; null to skip",
    )


class Batch(_Strict):
    """Scheduled scoring of new input blocks with the champion (`<name>__batch_predict`)."""

    schedule: str | None = Field(None, description="cron or preset; null: only on new champions or by hand")
    input: Annotated[
        Annotated[str, Tag("path")] | Annotated[SqlSource, Tag("SqlSource")],
        Discriminator(lambda v: "SqlSource" if isinstance(v, dict | SqlSource) and _has_sql(v) else "path"),
    ] = Field(description="files to score (path, glob or fsspec URL; one block per file) or {sql, conn}")
    format: Literal["csv", "parquet", "json"] | None = None
    on_new_model: bool = Field(False, description="also run when a new champion is promoted")
    key: str | None = Field(None, description="column that identifies a row; stored with its prediction")
    chunk_rows: int = Field(100_000, ge=100, description="rows read, scored and stored at a time")
    write_parquet: bool = Field(False, description="also write <input>.predictions.parquet next to each file")


class Deploy(_Strict):
    mode: Literal["permanent", "transient"] = "permanent"
    batch: Batch | None = None

    @model_validator(mode="after")
    def _batch_needs_champion(self) -> Deploy:
        if self.mode == "transient" and self.batch is not None:
            raise ValueError(
                "deploy.batch: batch scoring uses the registered champion, and transient pipelines "
                "register none; remove `batch` or use mode: permanent"
            )
        return self


class PipelineSpec(_Strict):
    """A whole pipeline: where the data comes from, how it is prepared, trained and gated."""

    name: str
    task: Literal["classification", "regression"]
    source: Annotated[
        Annotated[FileSource, Tag("FileSource")] | Annotated[SqlSource, Tag("SqlSource")],
        Discriminator(
            lambda v: "SqlSource" if isinstance(v, dict | SqlSource) and _has_sql(v) else "FileSource"
        ),
    ]
    target: str
    prepare: Prepare = Prepare()
    validate_: Validate = Field(Validate(), alias="validate")
    split: Split = Split()
    train: Train
    gate: Gate = Gate()
    deploy: Deploy = Deploy()
    monitor: Monitor | None = None
    schedule: str | None = None
    retries: int = Field(2, ge=0, le=10)
    retry_delay: int = Field(30, ge=0, le=3600)  # seconds between a failed task's tries

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    # The folder of the spec file: relative paths and modules of custom steps are found there.
    _base_dir: str | None = PrivateAttr(None)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PIPELINE_NAME.match(value):
            raise ValueError(f"{value!r}: use letters, digits and underscores, starting with a letter")
        return value

    @model_validator(mode="after")
    def _metrics(self) -> PipelineSpec:
        # Messages start with the field's path: the loader turns it into the line in the file.
        known = CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS
        problems = []
        if self.train.metric is not None and self.train.metric not in known:
            problems.append(
                f"train.metric: {self.train.metric!r} is not a {self.task} metric; use one of {known}"
            )
        for kind, bound in (("min", self.gate.min), ("max", self.gate.max)):
            for metric in bound:
                if metric not in known:
                    problems.append(f"gate.{kind}.{metric}: not a {self.task} metric; use one of {known}")
        if self.monitor is not None:
            live = LIVE_CLASSIFICATION_METRICS if self.task == "classification" else REGRESSION_METRICS
            for kind, bound in (("min", self.monitor.min), ("max", self.monitor.max)):
                for metric in bound:
                    if metric not in live:
                        problems.append(
                            f"monitor.{kind}.{metric}: not a live {self.task} metric; use one of {live}"
                        )
            batch = self.deploy.batch
            if self.monitor.labels is not None and (batch is None or batch.key is None):
                problems.append(
                    "monitor.labels: labels are joined to stored predictions on deploy.batch.key; "
                    "set deploy.batch.key to the column that identifies a row"
                )
        if self.split.stratify and self.task == "regression":
            problems.append("split.stratify: only applies to classification; remove it")
        if self.target in self.prepare.drop_columns:
            problems.append(f"prepare.drop_columns: drops the target {self.target!r}")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def metric(self) -> str:
        """The selection metric: the spec's, or f1 / rmse by task."""
        return self.train.metric or ("f1" if self.task == "classification" else "rmse")

    @property
    def validation(self) -> Validate:
        return self.validate_

    @property
    def base_dir(self) -> str | None:
        return self._base_dir
