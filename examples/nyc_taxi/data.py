"""NYC green-taxi trips: read a real TLC month, or generate a synthetic one with the same schema.

``load_month(path)`` reads a ``green_tripdata_YYYY-MM.parquet`` file as published by the NYC Taxi
& Limousine Commission. ``generate_month(year, month, n_rows, seed)`` makes a realistic month with
the same columns and dtypes (those of the 2021 files), deterministically from ``seed``, so the
example runs offline; its dataset source, ``synthetic_source(...)`` (e.g.
``synthetic://green/2021-01?rows=10000&seed=42``), names the generator's arguments, and
``generate_from_source`` makes the same month again from it. ``prepare`` and ``vectorize`` are
the course's feature engineering.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa
    from scipy.sparse import spmatrix
    from sklearn.feature_extraction import DictVectorizer

__all__ = [
    "CATEGORICAL",
    "FEATURES",
    "Features",
    "NUMERICAL",
    "TARGET",
    "TLC_COLUMNS",
    "generate_from_source",
    "generate_month",
    "load_month",
    "prepare",
    "synthetic_source",
    "tlc_schema",
    "to_dicts",
    "vectorize",
]

TLC_COLUMNS = [
    "VendorID",
    "lpep_pickup_datetime",
    "lpep_dropoff_datetime",
    "store_and_fwd_flag",
    "RatecodeID",
    "PULocationID",
    "DOLocationID",
    "passenger_count",
    "trip_distance",
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "ehail_fee",
    "improvement_surcharge",
    "total_amount",
    "payment_type",
    "trip_type",
    "congestion_surcharge",
]

CATEGORICAL = ["PULocationID", "DOLocationID"]
NUMERICAL = ["trip_distance"]
FEATURES = ["PU_DO", "trip_distance"]
TARGET = "duration"

_SYNTHETIC = "synthetic://green/"
N_ZONES = 265  # TLC taxi zones 1..265 (264 and 265 are "unknown" / "outside of NYC")
_CITY_SEED = 20210101  # the city's layout is fixed: only the trips depend on ``seed``

# Borough centres (miles) and how many zones each has: Manhattan, Brooklyn, Queens, Bronx,
# Staten Island, and the airport / outside zones.
_BOROUGHS = [((0.0, 0.0), 69, 1.6), ((2.5, -6.0), 61, 2.4), ((8.0, -1.0), 69, 3.0),
             ((3.0, 7.0), 43, 1.8), ((-8.0, -12.0), 20, 2.2), ((-11.0, -3.0), 3, 4.0)]
# Busiest green-taxi pick-up zones (East/Central Harlem, Astoria, Jackson Heights, ...).
_HOTSPOTS = [74, 75, 41, 42, 166, 7, 82, 95, 97, 129, 130, 244, 65, 181, 255, 260, 116, 152]
# Pick-ups per hour of day (relative), and traffic speed in mph on weekdays / weekends.
_HOURLY = np.array([1.6, 1.1, 0.8, 0.6, 0.6, 0.9, 1.8, 3.2, 4.3, 4.2, 4.0, 4.1,
                    4.3, 4.5, 4.9, 5.4, 5.8, 5.9, 5.5, 4.6, 3.6, 3.0, 2.5, 2.0])
_SPEED_WEEKDAY = np.array([19, 20, 21, 21, 20, 17, 13, 9.5, 8.5, 9.5, 11, 11,
                           11, 10.5, 10, 9, 8.5, 8.5, 9.5, 11.5, 13, 14.5, 16, 17.5])
_SPEED_WEEKEND = np.array([17, 18, 19, 20, 20, 19, 18, 17, 15, 13.5, 12.5, 12,
                           11.5, 11.5, 11.5, 11.5, 12, 12, 12.5, 13, 14, 15, 15.5, 16])


# --------------------------------------------------------------------------- reading


def tlc_schema() -> pa.Schema:
    """The Arrow schema of the TLC green-taxi files of 2021 (``ehail_fee`` is all null)."""
    import pyarrow as pa

    f64 = pa.float64()
    types: dict[str, Any] = {
        "VendorID": pa.int64(),
        "lpep_pickup_datetime": pa.timestamp("us"),
        "lpep_dropoff_datetime": pa.timestamp("us"),
        "store_and_fwd_flag": pa.string(),
        "RatecodeID": f64,
        "PULocationID": pa.int64(),
        "DOLocationID": pa.int64(),
        "ehail_fee": pa.null(),
    }
    return pa.schema([(name, types.get(name, f64)) for name in TLC_COLUMNS])


def load_month(path: str) -> pd.DataFrame:
    """Read one real ``green_tripdata_YYYY-MM.parquet`` file (local path or anything pandas reads)."""
    df = pd.read_parquet(path)
    missing = [c for c in ("lpep_pickup_datetime", "lpep_dropoff_datetime", *CATEGORICAL,
                           *NUMERICAL) if c not in df.columns]
    if missing:
        raise ValueError(
            f"{path} does not look like a TLC green-taxi file: missing columns {missing}."
        )
    return df


def synthetic_source(year: int, month: int, n_rows: int, seed: int) -> str:
    """The dataset source recorded for a generated month: enough to generate it again.

    ``synthetic://green/2021-01?rows=10000&seed=42``; ``generate_from_source`` reads it back.
    """
    return f"{_SYNTHETIC}{year:04d}-{month:02d}?rows={n_rows}&seed={seed}"


def generate_from_source(source: str) -> pd.DataFrame:
    """The month a ``synthetic_source`` URI describes, generated again (identical data)."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(source)
    query = parse_qs(parts.query)
    match = re.fullmatch(r"/?(\d{4})-(\d{2})", parts.path)
    if not source.startswith(_SYNTHETIC) or match is None or not {"rows", "seed"} <= set(query):
        raise ValueError(
            f"{source!r} is not a synthetic month source; expected e.g. "
            f"{synthetic_source(2021, 1, 10_000, 42)!r}."
        )
    year, month = int(match.group(1)), int(match.group(2))
    return generate_month(year, month, int(query["rows"][0]), seed=int(query["seed"][0]))


# --------------------------------------------------------------------------- the city


@lru_cache(maxsize=1)
def _city() -> dict[str, np.ndarray]:
    """Zone coordinates, boroughs, popularity, trip-destination CDFs and route slowness."""
    rng = np.random.default_rng(_CITY_SEED)
    centres = np.repeat([c for c, n, _ in _BOROUGHS], [n for _, n, _ in _BOROUGHS], axis=0)
    spread = np.repeat([s for _, _, s in _BOROUGHS], [n for _, n, _ in _BOROUGHS])
    borough = np.repeat(np.arange(len(_BOROUGHS)), [n for _, n, _ in _BOROUGHS])
    order = rng.permutation(N_ZONES)  # zone id -> slot in the borough layout
    xy = (centres + rng.normal(size=(N_ZONES, 2)) * spread[:, None])[order]
    borough = borough[order]

    ranks = rng.permutation(N_ZONES).astype(float)
    for rank, zone in enumerate(_HOTSPOTS):
        swap = np.flatnonzero(ranks == rank)[0]
        ranks[swap], ranks[zone - 1] = ranks[zone - 1], rank
    popularity = 1.0 / (ranks + 3.0) ** 1.15
    popularity[[263, 264]] *= 0.2  # zones 264/265 ("unknown") are rare

    distance = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) * 1.3
    np.fill_diagonal(distance, 0.7)
    attraction = popularity[None, :] ** 0.8 * np.exp(-distance / 2.5)
    np.fill_diagonal(attraction, attraction.diagonal() * 3.0)
    cdf = np.cumsum(attraction / attraction.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    slowness = np.exp(0.25 * rng.standard_normal((N_ZONES, N_ZONES)))  # bridges, avenues, ...
    return {"xy": xy, "borough": borough, "popularity": popularity / popularity.sum(),
            "distance": distance, "cdf": cdf, "slowness": slowness}


# --------------------------------------------------------------------------- generating


def generate_month(year: int = 2021, month: int = 1, n_rows: int = 20_000,
                   seed: int = 42) -> pd.DataFrame:
    """A synthetic month of green-taxi trips, identical for identical arguments.

    Pick-ups follow a daily rhythm over the whole month; zones 1..265 have a skewed popularity;
    the trip distance follows the pick-up/drop-off pair's geography; the duration depends on
    distance, time-of-day congestion, the route and noise. About 3.5 % of trips last under a
    minute or over an hour, and about 8 % lack the fields that real dispatched trips lack.
    """
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}.")
    if n_rows < 0:
        raise ValueError(f"n_rows must be >= 0, got {n_rows}.")
    rng = np.random.default_rng([seed, year, month])
    city = _city()
    pickup, hour, weekday = _pickup_times(rng, year, month, n_rows)
    pu = rng.choice(N_ZONES, size=n_rows, p=city["popularity"])
    do = _destinations(city["cdf"], pu, rng.random(n_rows))
    distance = _trip_distance(rng, city["distance"][pu, do])
    minutes = _duration_minutes(rng, distance, city["slowness"][pu, do], hour, weekday)
    dropoff = pickup + (np.round(minutes * 60.0).astype(np.int64) * 1_000_000).astype(
        "timedelta64[us]"
    )
    columns = _fare_columns(rng, distance, minutes, hour, weekday,
                            manhattan=(city["borough"][pu] == 0) | (city["borough"][do] == 0))
    columns.update({
        "lpep_pickup_datetime": pickup,
        "lpep_dropoff_datetime": dropoff,
        "PULocationID": pu + 1,
        "DOLocationID": do + 1,
        "trip_distance": distance,
    })
    order = np.argsort(pickup, kind="stable")
    return _to_frame({k: v[order] for k, v in columns.items()}, n_rows)


def _pickup_times(rng: np.random.Generator, year: int, month: int,
                  n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick-up timestamps (``datetime64[us]``) spread over the month, with hour and weekday."""
    days = calendar.monthrange(year, month)[1]
    day = rng.integers(0, days, size=n)
    hour = rng.choice(24, size=n, p=_HOURLY / _HOURLY.sum())
    seconds = day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, size=n)
    late = rng.random(n) < 0.0005  # like the real files: a few trips of the previous month
    seconds = np.where(late, seconds % 86_400 - 86_400, seconds)
    start = np.datetime64(dt.datetime(year, month, 1), "us")
    pickup = start + (seconds * 1_000_000).astype("timedelta64[us]")
    weekday = (dt.date(year, month, 1).weekday() + seconds // 86_400) % 7
    return pickup, hour, weekday


def _destinations(cdf: np.ndarray, pu: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Drop-off zone indexes: inverse-CDF sampling of each pick-up zone's destination law."""
    do = np.empty(pu.size, dtype=np.int64)
    for zone in np.unique(pu):
        rows = pu == zone
        do[rows] = np.searchsorted(cdf[zone], u[rows], side="left")
    return do


def _trip_distance(rng: np.random.Generator, route: np.ndarray) -> np.ndarray:
    """Odometer miles: the pair's route length with noise; some zeros (no GPS) like real data."""
    miles = route * rng.lognormal(0.0, 0.2, size=route.size)
    miles = np.where(rng.random(route.size) < 0.015, 0.0, miles)
    return np.round(miles, 2)


def _duration_minutes(rng: np.random.Generator, miles: np.ndarray, slowness: np.ndarray,
                      hour: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Trip minutes from distance and traffic, plus cancelled (< 1 min) and meter-left-on trips."""
    n = miles.size
    speed = np.where(weekday < 5, _SPEED_WEEKDAY[hour], _SPEED_WEEKEND[hour])
    speed = speed * np.sqrt(1.0 + miles / 5.0)  # long trips use highways
    minutes = 1.5 + np.maximum(miles, 0.3) / speed * 60.0 * slowness
    minutes *= rng.lognormal(0.0, 0.22, size=n)
    kind = rng.random(n)
    minutes = np.where(kind < 0.015, rng.uniform(0.0, 1.0, size=n), minutes)
    overlong = 60.0 + rng.lognormal(3.5, 1.3, size=n)  # up to ~a day, like forgotten meters
    minutes = np.where(kind > 0.99, overlong, minutes)
    return np.round(minutes * 60.0) / 60.0  # whole seconds


def _fare_columns(rng: np.random.Generator, miles: np.ndarray, minutes: np.ndarray,
                  hour: np.ndarray, weekday: np.ndarray,
                  manhattan: np.ndarray) -> dict[str, np.ndarray]:
    """Vendor, rate code, passengers and the fare breakdown of each trip (NaN where unknown)."""
    n = miles.size
    dispatched = rng.random(n) < 0.08  # these rows lack rate code, passengers, payment, ...
    ratecode = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], size=n, p=[0.962, 0.003, 0.001, 0.002, 0.032])
    metered = np.round((2.5 + 2.5 * miles + 0.35 * np.minimum(minutes, 120.0)) * 2.0) / 2.0
    fare = np.where(ratecode == 5.0, np.round(rng.uniform(8.0, 60.0, size=n), 0), metered)
    night, peak = (hour >= 20) | (hour < 6), (weekday < 5) & (hour >= 16) & (hour < 20)
    extra = np.select([peak, night], [1.0, 0.5], 0.0)
    payment = rng.choice([1.0, 2.0, 3.0, 4.0], size=n, p=[0.55, 0.42, 0.02, 0.01])
    tips = (payment == 1.0) & (rng.random(n) < 0.8)
    tip = np.where(tips, np.round(fare * rng.uniform(0.1, 0.25, size=n), 2), 0.0)
    tolls = np.where((miles > 8.0) & (rng.random(n) < 0.3), 6.12, 0.0)
    congestion = np.where(manhattan & (rng.random(n) < 0.6), 2.75, 0.0)
    mta_tax = np.where(ratecode == 5.0, 0.0, 0.5)
    total = np.round(fare + extra + mta_tax + tip + tolls + 0.3 + congestion, 2)
    passengers = rng.choice(7, size=n, p=[0.02, 0.84, 0.07, 0.02, 0.01, 0.025, 0.015])
    return {
        "VendorID": rng.choice([1, 2], size=n, p=[0.2, 0.8]),
        "store_and_fwd_flag": np.where(rng.random(n) < 0.005, "Y", "N").astype(object),
        "RatecodeID": np.where(dispatched, np.nan, ratecode),
        "passenger_count": np.where(dispatched, np.nan, passengers.astype(float)),
        "fare_amount": fare,
        "extra": extra,
        "mta_tax": mta_tax,
        "tip_amount": tip,
        "tolls_amount": tolls,
        "improvement_surcharge": np.full(n, 0.3),
        "total_amount": total,
        "payment_type": np.where(dispatched, np.nan, payment),
        "trip_type": np.where(dispatched, np.nan, np.where(ratecode == 5.0, 2.0, 1.0)),
        "congestion_surcharge": np.where(dispatched, np.nan, congestion),
        "_dispatched": dispatched,
    }


def _to_frame(columns: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    """Build the DataFrame through Arrow, so dtypes are what ``pd.read_parquet`` gives."""
    import pyarrow as pa

    schema = tlc_schema()
    dispatched = columns.pop("_dispatched")
    arrays = []
    for field in schema:
        if field.name == "ehail_fee":
            arrays.append(pa.nulls(n))
        elif field.name == "store_and_fwd_flag":
            arrays.append(pa.array(columns[field.name], type=field.type, mask=dispatched))
        else:
            arrays.append(pa.array(columns[field.name], type=field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema).to_pandas()


# --------------------------------------------------------------------------- features


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """The course's preparation: duration in minutes, 1..60 min trips, ``PU_DO`` pair feature."""
    df = df.copy()
    df[TARGET] = (df.lpep_dropoff_datetime - df.lpep_pickup_datetime).dt.total_seconds() / 60
    df = df[(df[TARGET] >= 1) & (df[TARGET] <= 60)].copy()
    df[CATEGORICAL] = df[CATEGORICAL].astype(str)
    df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]
    return df


class Features(NamedTuple):
    """The fitted ``DictVectorizer`` and the train/validation matrices and targets."""

    dv: DictVectorizer
    X_train: spmatrix
    X_val: spmatrix
    y_train: np.ndarray
    y_val: np.ndarray


def to_dicts(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The feature records a ``DictVectorizer`` takes."""
    return df[FEATURES].to_dict(orient="records")


def vectorize(df_train: pd.DataFrame, df_val: pd.DataFrame) -> Features:
    """One-hot ``PU_DO`` plus ``trip_distance`` through a ``DictVectorizer`` fitted on train."""
    from sklearn.feature_extraction import DictVectorizer

    dv = DictVectorizer()
    X_train = _int32_indices(dv.fit_transform(to_dicts(df_train)))
    X_val = _int32_indices(dv.transform(to_dicts(df_val)))
    return Features(dv, X_train, X_val, df_train[TARGET].to_numpy(), df_val[TARGET].to_numpy())


def _int32_indices(X: Any) -> Any:
    """``X`` with 32-bit sparse indices, which scikit-learn's ``Lasso`` requires.

    With scikit-learn 1.9 and SciPy 1.17, ``DictVectorizer`` returns int64 indices and
    ``Lasso.fit`` refuses them ("Only sparse matrices with 32-bit integer indices are accepted").
    """
    if X.indices.dtype != np.int32 and X.nnz < 2**31 - 1:
        X = X.copy()
        X.indices = X.indices.astype(np.int32)
        X.indptr = X.indptr.astype(np.int32)
    return X
