"""Install the Jupyter kernel ``emolib-ci`` into the current environment.

It is the ordinary IPython kernel of this Python with two settings that keep
notebook outputs reproducible, so that nbval can compare them:

* ``--IPKernelApp.capture_fd_output=False``: TensorFlow's C++ runtime writes log
  lines (with timestamps) straight to file descriptor 2. By default ipykernel
  copies them into the output of whichever cell is running; with this flag they
  go to the terminal that started the kernel instead.
* ``TF_CPP_MIN_LOG_LEVEL=2``: hides TensorFlow's info and warning lines.

Usage: ``python tools/install_kernel.py [--name NAME]`` (``make setup`` runs it;
``tools/colab_check.py`` installs one named ``emolib-colab-check`` in its environment).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from emolib.fileio import write_json

NAME = "emolib-ci"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default=NAME, help=f"kernel name (default {NAME})")
    name = parser.parse_args(argv).name
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--sys-prefix",
         "--name", name, "--display-name", "Python 3 (emolib CI)" if name == NAME else f"Python 3 ({name})"],
        check=True, stdout=subprocess.DEVNULL,
    )
    spec_path = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name / "kernel.json"
    spec = json.loads(spec_path.read_text())
    if "--IPKernelApp.capture_fd_output=False" not in spec["argv"]:
        spec["argv"].append("--IPKernelApp.capture_fd_output=False")
    spec["env"] = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    write_json(spec_path, spec)
    print(f"installed kernel {name!r} at {spec_path.parent}")


if __name__ == "__main__":
    main()
