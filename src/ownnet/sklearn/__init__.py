"""scikit-learn estimators trained by ownnet: ``MLPClassifier`` and ``MLPRegressor``.

They take the constructor parameters of ``sklearn.neural_network.MLPClassifier``/``MLPRegressor`` (same
names, defaults, accepted values and meaning), expose the same fitted attributes and pass
scikit-learn's own MLP tests, so code written for scikit-learn's MLP runs on them::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from ownnet.sklearn import MLPClassifier

    model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64,), max_iter=50))
    model.fit(x_train, y_train).score(x_test, y_test)

Inside, the network is an ownnet ``Sequential`` of ``Linear`` layers (``estimator.model_``), trained by
ownnet's optimizers (or SciPy's L-BFGS-B) in float32 unless ``dtype`` says otherwise.

    parameters.py   the hyperparameters: checks, scikit-learn's rules for batch size and dtype
    network.py      the network: scikit-learn's initialisation, coefs_/intercepts_, forward/backward
    outputs.py      output activations and losses (softmax + log-loss, logistic, identity, exp)
    stochastic.py   the minibatch solvers, scikit-learn's stopping rule, schedules, early stopping
    lbfgs.py        solver="lbfgs" through scipy.optimize.minimize
    base.py         what both estimators share; classifier.py, regressor.py: the estimators

scikit-learn (and SciPy, which it brings) is an optional extra: ``pip install 'ownnet[sklearn]'``.
docs/sklearn.md lists every parameter and each difference from scikit-learn's MLP.
"""

try:
    import scipy.optimize  # noqa: F401

    import sklearn  # noqa: F401  (both are what the submodules import)
except ImportError:
    raise ImportError("ownnet.sklearn needs scikit-learn >= 1.6 (and SciPy): "
                      "pip install 'ownnet[sklearn]'") from None

from ownnet.sklearn.classifier import MLPClassifier
from ownnet.sklearn.regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
