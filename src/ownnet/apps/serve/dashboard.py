"""``DashboardCallback``: show a running ``fit`` live in the browser (``ownnet train --dashboard``).

    dashboard = DashboardCallback(port=8000, epochs=5, probe_data=(x_test, y_test))
    print(dashboard.url + "dashboard")
    on.fit(model, loss, optimizer, x, y, epochs=5, callbacks=[dashboard])
    dashboard.close()

The server runs in a background thread from construction on. Training pays for: one list append per
batch (a few microseconds), and about once a second (``probe_interval``) a forward pass over
``probe_size`` samples in eval mode (for a live accuracy curve) and a copy of the first-layer
weights; on a slow or busy machine the probes are spaced out so that they take at most
``max_probe_share`` (1 %) of the time. After each epoch the draw page gets a copy of the model, so
digits can be drawn while it trains.
"""

import copy
import time

import numpy as np

from ownnet import backend
from ownnet.apps.serve.monitor import TrainingMonitor, first_layer_weights
from ownnet.apps.serve.predictor import Predictor
from ownnet.apps.serve.server import make_server, start_in_thread
from ownnet.train.callbacks import Callback


class DashboardCallback(Callback):
    """A ``Callback`` that feeds the dashboard page of a local server.

    port/host: where to serve (port 0 picks a free port; ``self.url`` tells); allow_hosts: more
    ``Host`` names to answer to (see ``ownnet.apps.serve.hosts``). epochs: the planned
    number of epochs (for the progress line). probe_data: ``(x, y)`` classification data of which
    the first ``probe_size`` rows give the live accuracy curve; it is also the test-digits panel of
    the draw page. probe_interval: seconds between probes (0: after every batch, for tests).
    max_probe_share: the largest fraction of the time the probes may take (spaces them out).
    """

    def __init__(self, port=8000, host="127.0.0.1", epochs=None, probe_data=None, probe_size=500,
                 probe_interval=1.0, max_probe_share=0.01, max_tiles=64, log_requests=False, allow_hosts=()):
        if not probe_interval >= 0:
            raise ValueError(f"probe_interval: expected seconds >= 0, got {probe_interval!r}")
        if isinstance(probe_size, bool) or not isinstance(probe_size, int) or probe_size < 1:
            raise ValueError(f"probe_size: expected a positive integer, got {probe_size!r}")
        self.monitor = TrainingMonitor(epochs=epochs, max_tiles=max_tiles)
        if not 0 < max_probe_share <= 1:
            raise ValueError(f"max_probe_share: expected a fraction in (0, 1], got {max_probe_share!r}")
        self.probe_interval, self.max_probe_share = float(probe_interval), float(max_probe_share)
        self.probe_x = self.probe_y = None
        if probe_data is not None:
            x, y = probe_data
            if len(x) != len(y):
                raise ValueError(f"probe_data: expected (x, y) of equal length, got {len(x)} and {len(y)}")
            self.probe_x, self.probe_y = x[:probe_size], np.asarray(y[:probe_size])
        self.server = make_server(monitor=self.monitor, samples=probe_data, host=host, port=port,
                                  log_requests=log_requests, allow_hosts=allow_hosts)
        self._thread = start_in_thread(self.server)
        self._next_probe = 0.0

    @property
    def url(self):
        """The server's address, e.g. ``http://127.0.0.1:8000/``; the dashboard is ``url + "dashboard"``."""
        return self.server.url

    # --- the callback hooks ------------------------------------------------------------------------
    def on_train_begin(self, run):
        super().on_train_begin(run)
        if self.probe_x is not None:
            self.probe_x = backend.as_float_array(self.probe_x, name="probe_data x", dtype=run.model.dtype,
                                                  device=run.model.device)
        self._hand_over_model()
        self.monitor.begin()
        self._probe()

    def on_batch_end(self, step, logs):
        self.monitor.add_batch(logs["loss"])
        if time.perf_counter() >= self._next_probe:
            self._probe()

    def on_epoch_end(self, epoch, logs):
        self.monitor.end_epoch(epoch, logs)
        self._hand_over_model()

    def on_train_end(self, logs):
        self._probe()
        self.monitor.finish("stopped" if self.run is not None and self.run.stop_training else "finished")

    # --- work done in the training thread ------------------------------------------------------------
    def _probe(self):
        started = time.perf_counter()
        model = self.run.model
        accuracy = None
        if self.probe_x is not None:
            was_training = model.training
            model.eval()
            try:
                logits = model.forward(self.probe_x)
            finally:
                model.train(was_training)
            if logits.ndim == 2 and logits.shape[1] > 1:
                accuracy = float((logits.argmax(axis=1) == self.probe_y).mean())
        self.monitor.add_probe(accuracy, first_layer_weights(model))
        now = time.perf_counter()
        if self.probe_interval > 0:
            self._next_probe = now + max(self.probe_interval, (now - started) / self.max_probe_share)

    def _hand_over_model(self):
        """Give the draw page its own copy of the model (the training one changes under it)."""
        snapshot = copy.deepcopy(self.run.model)
        try:
            if self.server.predictor is None:
                self.server.predictor = Predictor(snapshot)
            else:
                self.server.predictor.set_model(snapshot)
        except ValueError as error:  # not a 28x28 model: the curves work, the draw page says why
            self.server.no_model_reason = f"the draw page needs a model on 28x28 images: {error}"

    # --- the server ----------------------------------------------------------------------------------
    def wait(self):
        """Block until Ctrl+C (keeps the page up after training); then close the server."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self):
        """Stop the server and free its port."""
        self.server.shutdown()
        self.server.server_close()
