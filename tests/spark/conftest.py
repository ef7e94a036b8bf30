"""Fixtures of the Spark tests: Java, one local SparkSession, moto's server, a lake per test.

Spark's Python workers are separate processes, so moto must be a real server: the workers'
boto3 clients reach it through ``AWS_ENDPOINT_URL``, given to them as ``spark.executorEnv.*``
(pyspark passes those to its workers, local mode included). The driver's environment is set
per test only, so the rest of the suite never sees the endpoint.

Without Java the tests skip, except under ``CI=true`` where they fail: CI installs Java.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.gluejob.gluejob_lake import CREDENTIALS, Lake, moto_server


def _java_problem() -> str | None:
    java = shutil.which("java")
    if java is None:
        return "Java is not installed (Spark needs a JVM; install openjdk-17)"
    try:
        subprocess.run([java, "-version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"java -version failed: {exc}"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[spark]')"
    return None


@pytest.fixture(scope="session")
def spark_moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def spark(spark_moto_endpoint: str) -> Iterator[Any]:
    problem = _java_problem()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Spark tests cannot run in CI: {problem}")
        pytest.skip(problem)
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers need this venv's packages
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("dcp-spark-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.driver.memory", "1g")
        .config("spark.python.worker.reuse", "true")
    )
    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": spark_moto_endpoint}.items():
        builder = builder.config(f"spark.executorEnv.{name}", value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def lake(spark: Any, spark_moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Lake:
    monkeypatch.setenv("AWS_ENDPOINT_URL", spark_moto_endpoint)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return Lake.create(spark_moto_endpoint)
