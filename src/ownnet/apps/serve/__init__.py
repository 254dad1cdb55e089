"""See it think: a local web page to draw a digit and watch a model classify it, layer by layer, and
a live dashboard for training. Standard library only (``http.server``); the page is plain
HTML/CSS/JavaScript in ``static/``, with no build step.

    ownnet serve runs/mnist/model.safetensors          # http://127.0.0.1:8000/
    ownnet train --dashboard                            # http://127.0.0.1:8000/dashboard

From Python: ``serve_main(path, port=8000)``, or ``make_server(Predictor(model), samples=(x, y))``
and ``DashboardCallback(port=8000)`` passed to ``on.fit(..., callbacks=[...])``.
"""

from ownnet.apps.serve.commands import serve_main
from ownnet.apps.serve.dashboard import DashboardCallback
from ownnet.apps.serve.hosts import check_allow_hosts
from ownnet.apps.serve.monitor import TrainingMonitor
from ownnet.apps.serve.predictor import Predictor
from ownnet.apps.serve.requests import MAX_BODY_BYTES, RequestError
from ownnet.apps.serve.server import ServeServer, make_server, start_in_thread

__all__ = ["MAX_BODY_BYTES", "DashboardCallback", "Predictor", "RequestError", "ServeServer",
           "TrainingMonitor", "check_allow_hosts", "make_server", "serve_main", "start_in_thread"]
