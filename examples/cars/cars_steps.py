"""Row-level cleaning for the cars example: a custom prepare step (DataFrame in, DataFrame out)."""

import pandas as pd


def model_year(df: pd.DataFrame) -> pd.DataFrame:
    """Turn the `Year` date (1970-01-01) into the model year as a number (1970)."""
    out = df.copy()
    out["Year"] = pd.to_datetime(out["Year"]).dt.year
    return out
