"""Compiles the log pipeline's per-line modules to C with mypyc (`workers/native.py` lists them); the
rest of the package's definition is in pyproject.toml.

Every line of a log window passes through these modules; compiled, they read and digest lines about a
third faster. They stay plain Python: where no C compiler is found, or with `INCIDENT_COPILOT_PURE=1`,
they are installed as they are and behave the same, only slower.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig

from setuptools import setup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the build backend does not add it
from workers.native import COMPILED


def _extensions() -> list[object]:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if os.environ.get("INCIDENT_COPILOT_PURE") == "1" or shutil.which(compiler) is None:
        return []
    from mypyc.build import mypycify

    return list(mypycify(list(COMPILED), opt_level="3", group_name="workers_native"))


setup(ext_modules=_extensions())
