"""The library zip the Glue job gets in --extra-py-files: dcp.masking + dcp.gluejob, nothing else."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from dcp.gluejob.package import build_glue_library


def test_the_zip_holds_masking_and_gluejob_under_a_stub_dcp_package(tmp_path: Path) -> None:
    path = build_glue_library(tmp_path / "lib" / "dcp_masking.zip")
    names = zipfile.ZipFile(path).namelist()
    assert "dcp/__init__.py" in names
    assert {
        "dcp/masking/apply.py",
        "dcp/masking/crypto.py",
        "dcp/gluejob/job.py",
        "dcp/gluejob/cdc.py",
    } <= set(names)
    assert not [n for n in names if n.startswith(("dcp/cli", "dcp/config", "dcp/console", "dcp/aws/", "dcp/stack/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_same_sources_give_the_same_bytes(tmp_path: Path) -> None:
    first = build_glue_library(tmp_path / "a.zip").read_bytes()
    assert build_glue_library(tmp_path / "b.zip").read_bytes() == first


def test_the_job_imports_from_the_zip_alone(tmp_path: Path) -> None:
    """Without dcp installed (no site processing, so no editable finder): only the zip provides dcp."""
    path = build_glue_library(tmp_path / "dcp_masking.zip")
    site_packages = sysconfig.get_paths()["purelib"]
    code = (
        "import sys; "
        f"sys.path[:0] = [{str(path)!r}]; sys.path.append({site_packages!r}); "
        "import dcp.gluejob.job, dcp.gluejob.spark_engine, dcp.masking.apply, dcp; "
        "assert dcp.__file__.startswith(sys.path[0]), dcp.__file__; "
        "assert 'dcp.config' not in sys.modules and 'dcp.console' not in sys.modules; "
        "print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
