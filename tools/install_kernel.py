"""Install the Jupyter kernel ``emolib-ci`` into the current environment.

It is the ordinary IPython kernel of this Python with two settings that keep
notebook outputs reproducible, so that nbval can compare them:

* ``--IPKernelApp.capture_fd_output=False``: TensorFlow's C++ runtime writes log
  lines (with timestamps) straight to file descriptor 2. By default ipykernel
  copies them into the output of whichever cell is running; with this flag they
  go to the terminal that started the kernel instead.
* ``TF_CPP_MIN_LOG_LEVEL=2``: hides TensorFlow's info and warning lines.

Usage: ``python tools/install_kernel.py`` (``make setup`` runs it).
"""

import json
import subprocess
import sys
from pathlib import Path

from emolib.fileio import write_json

NAME = "emolib-ci"


def main():
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--sys-prefix",
         "--name", NAME, "--display-name", "Python 3 (emolib CI)"],
        check=True, stdout=subprocess.DEVNULL,
    )
    spec_path = Path(sys.prefix) / "share" / "jupyter" / "kernels" / NAME / "kernel.json"
    spec = json.loads(spec_path.read_text())
    if "--IPKernelApp.capture_fd_output=False" not in spec["argv"]:
        spec["argv"].append("--IPKernelApp.capture_fd_output=False")
    spec["env"] = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    write_json(spec_path, spec)
    print(f"installed kernel {NAME!r} at {spec_path.parent}")


if __name__ == "__main__":
    main()
