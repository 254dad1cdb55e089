"""``ownnet lab``: the lesson's study of 1-, 2- and 3-layer perceptrons on MNIST, measured and written up.

It trains softmax regression (1 layer) and 2- and 3-layer perceptrons with each activation between
the layers (tanh, sigmoid, ReLU by default), with the lesson's plain minibatch gradient descent, for
several seeds; records per epoch the accuracies, the largest |w| and the mean gradient norm of every
layer, the fraction of saturated tanh/sigmoid units and the network's confidence; and writes
``report.md`` whose every conclusion is generated from those numbers (mean ± spread over the seeds).

- ``measure.py``: ``WeightMonitor`` and ``LabMonitor``, the callbacks that measure during training;
- ``study.py``: the settings and the runs;
- ``stats.py``: the statistics over seeds (``Stat``: mean ± spread) and ``summarize``;
- ``conclusions.py``: the answers to the lab's four questions, sentence by sentence from the numbers;
- ``report.py``: the tables, the figures and report.md.
"""

from ownnet.apps.lab.measure import LabMonitor, WeightMonitor
from ownnet.apps.lab.study import FULL, QUICK, run_lab

__all__ = ["FULL", "QUICK", "LabMonitor", "WeightMonitor", "run_lab"]
