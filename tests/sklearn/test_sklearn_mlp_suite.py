"""scikit-learn's own MLP tests, run on ownnet's estimators.

The tests are read at collection time from the installed scikit-learn
(``sklearn/neural_network/tests/test_mlp.py``), the one line ``from sklearn.neural_network import
MLPClassifier, MLPRegressor`` is rewritten to import ``ownnet.sklearn``'s, and the result runs in this
module: a new scikit-learn release brings its new tests along. Nothing else of the file is changed.

``global_random_seed`` stands in for scikit-learn's fixture of that name (from its conftest: 42 by
default). The tests that cannot pass are listed in
``EXPECTED_FAILURES`` with the reason (docs/sklearn.md, "scikit-learn's own tests"); they are strict
expected failures, so the suite fails the day one of them starts passing.
"""

import re
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.6")

SOURCE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT_LINE = re.compile(r"^from sklearn\.neural_network import (.+)$", re.MULTILINE)

EXPECTED_FAILURES = {
    "test_gradient": "reads the private method _loss_grad_lbfgs (ownnet's gradient check of the same "
                     "losses is tests/sklearn/test_sklearn_network.py)",
    "test_nonfinite_params": "X holds float64 values beyond float32's range: ownnet rejects it before "
                             "training with a message naming the float32 range, where scikit-learn trains "
                             "and then reports non-finite weights (passes with dtype=None or 'float64')",
    "test_mlp_param_dtypes[MLPClassifier-float64]": "the network computes in float32 by default, so coefs_ "
                                                    "are float32 for float64 X (passes with dtype=None)",
    "test_mlp_param_dtypes[MLPRegressor-float64]": "the network computes in float32 by default, so coefs_ "
                                                   "are float32 for float64 X (passes with dtype=None)",
}


def _adapted_source():
    if not SOURCE.is_file():
        pytest.skip(f"this scikit-learn installation has no tests: {SOURCE} is missing",
                    allow_module_level=True)
    source = SOURCE.read_text()
    source, count = IMPORT_LINE.subn(r"from ownnet.sklearn import \1", source)
    if count != 1:  # fail loudly: a new release imports its MLP differently
        raise AssertionError(f"{SOURCE}: expected one 'from sklearn.neural_network import' line, "
                             f"found {count}")
    return source


exec(compile(_adapted_source(), str(SOURCE), "exec"))  # defines the test_* functions in this module


@pytest.fixture
def global_random_seed():
    return 42  # scikit-learn's default seed


@pytest.fixture(autouse=True)
def _expected_failures(request):
    reason = EXPECTED_FAILURES.get(request.node.name)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


def test_the_adapted_file_tests_ownnet():
    """The rewritten import took: the names the tests use are ownnet's estimators."""
    assert MLPClassifier.__module__ == "ownnet.sklearn.classifier"  # noqa: F821 (defined by the exec)
    assert MLPRegressor.__module__ == "ownnet.sklearn.regressor"  # noqa: F821
