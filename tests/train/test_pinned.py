"""Today's results, pinned before the code was reorganised (issue 16): the weights and the history of 2
epochs of the default recipe (SGD) and of the same net with Adam must not move, to 1e-5 relative; on the
machine and BLAS kernel that recorded them (``pinned.json``'s fingerprint) not at all."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
PINNED = json.loads((HERE / "pinned.json").read_text())


@pytest.fixture(scope="module")
def pinned_runs(mnist_dir):
    """``pinned_runs.py`` beside this file, imported as a module (the tests folder is not a package)."""
    spec = importlib.util.spec_from_file_location("pinned_runs", HERE / "pinned_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_two_epochs_of_the_default_recipe_give_the_pinned_results(pinned_runs, optimizer_name):
    expected = PINNED["runs"][optimizer_name]
    got = pinned_runs.summarize(*pinned_runs.run(optimizer_name))
    assert got["parameters"].keys() == expected["parameters"].keys()
    for name, want in expected["parameters"].items():
        have = got["parameters"][name]
        assert (have["shape"], have["dtype"]) == (want["shape"], want["dtype"]), name
        np.testing.assert_allclose(have["values"], want["values"], rtol=1e-5, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(have["sum_of_squares"], want["sum_of_squares"], rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(have["sum"], want["sum"], rtol=1e-5, atol=1e-4, err_msg=name)
    for epoch, (have, want) in enumerate(zip(got["history"], expected["history"]), 1):
        for key, value in want.items():
            np.testing.assert_allclose(have[key], value, rtol=1e-5, err_msg=f"epoch {epoch} {key}")
    if pinned_runs.blas_fingerprint() == PINNED["fingerprint"]:
        assert got["digest"] == expected["digest"], "same machine and BLAS kernel: no change at all"
