"""An example that needs an optional package says which one in one line when it is missing (README's
install brings only NumPy, tqdm and matplotlib)."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

WITHOUT_SKLEARN = """
import runpy, sys
sys.modules["sklearn"] = None  # as if scikit-learn were not installed
sys.argv = ["07_sklearn_estimators.py", "--quick"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_example_07_without_scikit_learn_says_what_to_install(tmp_path):
    done = subprocess.run([sys.executable, "-c", WITHOUT_SKLEARN], cwd=EXAMPLES, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == "example 07 needs scikit-learn: pip install 'ownnet[sklearn]'"
    assert "Traceback" not in done.stderr
