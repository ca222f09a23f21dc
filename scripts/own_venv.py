"""A benchmark script's own Python environment under runs/ (ignored by git): made once from PyPI."""

import os
import subprocess
import sys
from pathlib import Path


def run_in_venv(venv, requirements, script):
    """Returns at once when this process already runs in `venv`; otherwise creates it (with `pip
    install` of `requirements`) if it is missing or was made for other requirements, and
    re-executes `script` in it with this process's arguments (does not return)."""
    venv = Path(venv)
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    py, marker = venv / "bin" / "python", venv / ".requirements"
    wanted = "\n".join(requirements)
    if not (py.exists() and marker.exists() and marker.read_text() == wanted):
        print(f"setting up {venv} (pip install {' '.join(requirements)}) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        *requirements], check=True)
        marker.write_text(wanted)
    os.execv(str(py), [str(py), str(Path(script).resolve()), *sys.argv[1:]])
