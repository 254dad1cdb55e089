"""The web server of ``ownnet serve`` and ``ownnet train --dashboard``, without a browser: the JSON
API (valid requests and every kind of bad one), the static pages, and the dashboard callback."""

import base64
import http.client
import json
import socket
import threading

import numpy as np
import pytest

import ownnet as on
from ownnet.apps.serve import DashboardCallback, Predictor, make_server, start_in_thread
from ownnet.apps.serve.requests import MAX_BODY_BYTES


def _model(seed=0, hidden=16):
    on.manual_seed(seed)
    return on.mlp([784, hidden, 10])


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)


@pytest.fixture(scope="module")
def served():
    model = _model()
    images, labels = _images(30)
    server = make_server(Predictor(model), samples=(images, labels), port=0)
    start_in_thread(server)
    yield server, model, images, labels
    server.shutdown()
    server.server_close()


def _request(server, method, path, body=None, headers=None):
    """``(status, parsed JSON or text, response headers)``; a dict body is sent as JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    content_type = response.getheader("Content-Type", "")
    data = json.loads(raw) if content_type.startswith("application/json") else raw.decode()
    return response.status, data, response


HEAD = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def _raw(server, data, read_timeout=10):
    """Send raw bytes and return the raw answer (for requests http.client will not send)."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=read_timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _pixels(seed=1):
    return np.random.default_rng(seed).random(784).round(6).tolist()


# --- POST /predict: the happy path ---------------------------------------------------------------------
def test_predict_returns_the_models_probabilities_and_hidden_activations(served):
    server, model, _, _ = served
    pixels = _pixels()
    status, data, response = _request(server, "POST", "/predict", {"pixels": pixels})
    assert status == 200 and response.getheader("Content-Type") == "application/json"
    x = np.asarray(pixels, dtype=np.float32).reshape(1, 784)
    expected = on.predict_proba(model, x)[0]
    np.testing.assert_allclose(data["probabilities"], expected, rtol=1e-5, atol=1e-7)
    assert abs(sum(data["probabilities"]) - 1.0) < 1e-6
    assert data["prediction"] == int(expected.argmax())
    # one hidden layer: the ReLU after the first Linear, 16 units
    (layer,) = data["activations"]
    assert layer["name"] == "ReLU" and layer["index"] == 1
    hidden = np.maximum(x @ model[0].weight.data + model[0].bias.data, 0)[0]
    np.testing.assert_allclose(layer["values"], hidden, atol=1e-4)


def test_predict_accepts_integers_0_and_1(served):
    server = served[0]
    status, data, _ = _request(server, "POST", "/predict", {"pixels": [0] * 392 + [1] * 392})
    assert status == 200 and len(data["probabilities"]) == 10


def test_predict_uses_the_model_in_eval_mode():
    on.manual_seed(0)
    model = on.Sequential(on.Linear(784, 32), on.ReLU(), on.Dropout(0.5), on.Linear(32, 10))
    predictor = Predictor(model)
    x = np.asarray(_pixels(), dtype=np.float32)
    first, second = predictor.predict(x), predictor.predict(x)
    assert first == second  # Dropout off: the same answer twice
    expected = on.predict_proba(model, x.reshape(1, -1))[0]
    np.testing.assert_allclose(first["probabilities"], expected, rtol=1e-5)


# --- POST /predict: bad requests ----------------------------------------------------------------------
@pytest.mark.parametrize("length", [0, 1, 783, 785, 28])
def test_wrong_number_of_pixels_is_a_400_naming_the_count(served, length):
    status, data, _ = _request(served[0], "POST", "/predict", {"pixels": [0.5] * length})
    assert status == 400
    assert "784" in data["error"] and f"got {length}" in data["error"]


@pytest.mark.parametrize("bad", ["0.5", None, True, [0.5], {"v": 1}, -0.1, 1.5])
def test_a_pixel_that_is_not_a_number_in_0_1_is_a_400_naming_its_index(served, bad):
    pixels = [0.0] * 784
    pixels[37] = bad
    status, data, _ = _request(served[0], "POST", "/predict", {"pixels": pixels})
    assert status == 400
    assert data["error"].startswith("pixels[37]: expected a number in 0..1")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_rejected(served, constant):
    body = '{"pixels": [' + ",".join(["0"] * 783 + [constant]) + "]}"
    status, data, _ = _request(served[0], "POST", "/predict", body, {"Content-Type": "application/json"})
    assert status == 400 and constant in data["error"]


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1" * 5000, "1" * 400])
def test_numbers_beyond_float_range_are_rejected(served, number):
    body = '{"pixels": [' + ",".join(["0"] * 783 + [number]) + "]}"
    status, data, _ = _request(served[0], "POST", "/predict", body)
    assert status == 400 and data["error"].startswith(("pixels[783]", "body: not valid JSON"))


@pytest.mark.parametrize("body, fragment", [
    ("{not json", "not valid JSON"),
    ("[0.5, 0.5]", "got list"),
    ('{"image": []}', "without 'pixels'"),
    ('{"pixels": "0.5,0.5"}', "pixels: expected a list"),
    ('{"pixels": {"0": 1}}', "pixels: expected a list"),
    ("", "not valid JSON"),
    ("[" * 5000 + "]" * 5000, "body"),
])
def test_malformed_bodies_are_a_400_with_a_message(served, body, fragment):
    status, data, _ = _request(served[0], "POST", "/predict", body)
    assert status == 400 and fragment in data["error"]


def test_a_body_that_is_not_utf8_is_a_400(served):
    status, data, _ = _request(served[0], "POST", "/predict", b'{"pixels": "\xff\xfe"}')
    assert status == 400 and "UTF-8" in data["error"]


def test_a_large_body_is_refused_with_413(served):
    big = json.dumps({"pixels": [0.123456789012345] * 784, "padding": "x" * MAX_BODY_BYTES})
    status, data, response = _request(served[0], "POST", "/predict", big)
    assert status == 413 and str(MAX_BODY_BYTES) in data["error"]
    assert response.getheader("Connection") == "close"


def test_a_huge_content_length_is_refused_before_reading_the_body(served):
    answer = _raw(served[0], HEAD + b"Content-Length: 10000000000\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 413") and b"at most" in answer


def test_a_missing_content_length_is_a_411(served):
    answer = _raw(served[0], HEAD + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 411")


@pytest.mark.parametrize("value", [b"abc", b"-5"])
def test_a_malformed_content_length_is_a_400(served, value):
    answer = _raw(served[0], HEAD + b"Content-Length: " + value + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400") and b"Content-Length" in answer


def test_a_body_shorter_than_its_content_length_is_a_400(served):
    answer = _raw(served[0], HEAD + b"Content-Length: 100\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.1 400") and b"said 100 bytes, got 2" in answer


def test_a_connection_stays_usable_after_a_rejected_request(served):
    server = served[0]
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    for body, expected in (({"pixels": [2] * 784}, 400), ({"pixels": _pixels()}, 200), ({"pixels": []}, 400),
                           ({"pixels": _pixels(2)}, 200)):
        connection.request("POST", "/predict", body=json.dumps(body))
        response = connection.getresponse()
        response.read()
        assert response.status == expected
    connection.close()


# --- routes, hosts, origins ----------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, status", [
    ("GET", "/predict", 405), ("POST", "/api/info", 405), ("GET", "/nothing", 404),
    ("GET", "/static/../server.py", 404), ("GET", "/static/nothing.js", 404), ("PUT", "/predict", 501),
])
def test_wrong_methods_and_unknown_paths(served, method, path, status):
    got, data, _ = _request(served[0], method, path)
    assert got == status and data["error"]  # JSON, 501 (http.server's own answer) included


def test_requests_for_another_host_are_refused(served):
    # DNS rebinding: a page on evil.example resolves its name to 127.0.0.1 and calls the server
    status, data, _ = _request(served[0], "POST", "/predict", {"pixels": _pixels()}, {"Host": "evil.example"})
    assert status == 400 and "localhost" in data["error"]
    status, _, _ = _request(served[0], "GET", "/", headers={"Host": "localhost:1234"})
    assert status == 200


def test_posts_from_another_origin_are_refused(served):
    server = served[0]
    status, data, _ = _request(server, "POST", "/predict", {"pixels": _pixels()},
                               {"Origin": "http://evil.example"})
    assert status == 403 and "evil.example" in data["error"]
    status, _, _ = _request(server, "POST", "/predict", {"pixels": _pixels()},
                            {"Origin": f"http://127.0.0.1:{server.server_address[1]}"})
    assert status == 200


@pytest.mark.parametrize("path, content_type, marker", [
    ("/", "text/html", 'id="pad"'), ("/dashboard", "text/html", 'id="loss-chart"'),
    ("/static/app.js", "text/javascript", "ownnetPage"),
    ("/static/preprocess.js", "text/javascript", "mnistStyle"), ("/static/style.css", "text/css", "#pad"),
])
def test_static_pages(served, path, content_type, marker):
    status, text, response = _request(served[0], "GET", path)
    assert status == 200 and response.getheader("Content-Type").startswith(content_type)
    assert marker in text
    if content_type == "text/html":
        assert "script-src 'self'" in response.getheader("Content-Security-Policy")


def test_info_describes_the_model(served):
    server, model, _, _ = served
    status, data, _ = _request(server, "GET", "/api/info")
    assert status == 200 and data["training"] is False
    assert data["model"]["layers"] == ["Linear 784→16", "ReLU", "Linear 16→10"]
    assert data["model"]["parameters"] == model.num_parameters() and data["model"]["classes"] == 10


def test_samples_are_test_digits_with_the_models_guesses(served):
    server, model, images, labels = served
    status, data, _ = _request(server, "GET", "/api/samples?count=5")
    assert status == 200 and len(data["samples"]) == 5
    indices = [sample["index"] for sample in data["samples"]]
    assert len(set(indices)) == 5
    guesses = on.predict_classes(model, images[indices])
    for sample, guess in zip(data["samples"], guesses):
        assert sample["label"] == labels[sample["index"]] and sample["prediction"] == guess
        pixels = np.asarray(sample["pixels"])
        assert pixels.shape == (784,) and pixels.min() >= 0 and pixels.max() <= 255
        np.testing.assert_allclose(pixels / 255, images[sample["index"]], atol=0.5 / 255 + 1e-6)


@pytest.mark.parametrize("query", ["count=0", "count=49", "count=abc"])
def test_samples_count_is_validated(served, query):
    status, data, _ = _request(served[0], "GET", f"/api/samples?{query}")
    assert status == 400 and "count" in data["error"]


def test_without_samples_or_training_the_endpoints_say_why():
    server = make_server(Predictor(_model()), port=0)
    start_in_thread(server)
    try:
        status, data, _ = _request(server, "GET", "/api/samples")
        assert status == 503 and "no test digits" in data["error"]
        status, data, _ = _request(server, "GET", "/api/training")
        assert status == 503 and "ownnet train --dashboard" in data["error"]
    finally:
        server.shutdown()
        server.server_close()


def test_concurrent_predictions_do_not_mix(served):
    server = served[0]
    inputs = [_pixels(seed) for seed in range(6)]
    expected = [_request(server, "POST", "/predict", {"pixels": p})[1]["probabilities"] for p in inputs]
    failures = []

    def worker(k):
        for _ in range(5):
            status, data, _ = _request(server, "POST", "/predict", {"pixels": inputs[k]})
            if status != 200 or data["probabilities"] != expected[k]:
                failures.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# --- construction errors ----------------------------------------------------------------------------------
def test_a_model_that_does_not_take_784_inputs_is_refused():
    with pytest.raises(ValueError, match="784"):
        Predictor(on.mlp([2, 4, 2]))


@pytest.mark.parametrize("port", [-1, 70000, "8000", True])
def test_port_is_validated(port):
    with pytest.raises(ValueError, match="port"):
        make_server(Predictor(_model()), port=port)


def test_serve_main_reports_a_missing_model_file(tmp_path):
    from ownnet.apps.serve import serve_main

    with pytest.raises(FileNotFoundError):
        serve_main(str(tmp_path / "missing.safetensors"), port=0)


def test_serve_main_refuses_a_model_for_other_inputs(tmp_path):
    from ownnet.apps.serve import serve_main

    path = on.save(on.mlp([2, 3, 2]), tmp_path / "moons")
    with pytest.raises(ValueError, match="784"):
        serve_main(path, port=0)


# --- the training dashboard -------------------------------------------------------------------------------
def _train(callbacks, seed=0):
    x, y = _images(256, seed=3)
    on.manual_seed(seed)
    model = on.Sequential(on.Linear(784, 24), on.ReLU(), on.Dropout(0.3), on.Linear(24, 10))
    history = on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.05, momentum=0.9),
                     x, y, epochs=2, batch_size=32, seed=seed, verbose=False,
                     validation_data=_images(64, seed=4), callbacks=callbacks)
    return model, history


def test_dashboard_shows_what_fit_did():
    probe_x, probe_y = _images(50, seed=5)
    dashboard = DashboardCallback(port=0, epochs=2, probe_data=(probe_x, probe_y), probe_interval=0)
    try:
        model, history = _train([dashboard])
        status, data, _ = _request(dashboard.server, "GET", "/api/training")
        assert status == 200 and data["status"] == "finished"
        assert data["step"] == 16 and data["steps_per_epoch"] == 8 and data["epochs"] == 2
        assert [b[0] for b in data["batches"]] == list(range(1, 17))
        assert [e["loss"] for e in data["epoch_logs"]] == pytest.approx(history["loss"])
        assert [e["val_accuracy"] for e in data["epoch_logs"]] == pytest.approx(history["val_accuracy"])
        assert [e["step"] for e in data["epoch_logs"]] == [8, 16]
        # probe_interval=0: one probe at the start, after each batch and at the end
        assert len(data["probes"]) == 18
        final = (on.predict_classes(model, probe_x) == probe_y).mean()
        assert data["probes"][-1] == [16, pytest.approx(final)]
        # only the batches not seen yet
        _, later, _ = _request(dashboard.server, "GET", "/api/training?since=10")
        assert [b[0] for b in later["batches"]] == list(range(11, 17))

        _, weights, _ = _request(dashboard.server, "GET", "/api/weights")
        assert weights["tiles"] == 24 and weights["side"] == 28
        tiles = np.frombuffer(base64.b64decode(weights["data"]), dtype=np.int8).reshape(24, 784)
        w = model[0].weight.data.T
        np.testing.assert_allclose(weights["scale"], np.abs(w).max(axis=1), rtol=1e-5)
        np.testing.assert_allclose(tiles, w / np.abs(w).max(axis=1, keepdims=True) * 127, atol=0.51)

        # the draw page works on a copy of the trained model
        status, info, _ = _request(dashboard.server, "GET", "/api/info")
        assert info["training"] is True and info["model"]["parameters"] == model.num_parameters()
        pixels = _pixels()
        _, predicted, _ = _request(dashboard.server, "POST", "/predict", {"pixels": pixels})
        expected = on.predict_proba(model, np.asarray(pixels, dtype=np.float32).reshape(1, -1))[0]
        np.testing.assert_allclose(predicted["probabilities"], expected, rtol=1e-5, atol=1e-7)
    finally:
        dashboard.close()


def test_dashboard_does_not_change_training():
    # The probes run the model in eval mode between steps: the weights, the losses and the Dropout
    # masks must come out exactly as without the dashboard.
    dashboard = DashboardCallback(port=0, probe_data=_images(40, seed=6), probe_interval=0)
    try:
        with_dashboard, history_with = _train([dashboard])
    finally:
        dashboard.close()
    without, history_without = _train([])
    assert history_with["loss"] == history_without["loss"]
    for (name, a), (_, b) in zip(with_dashboard.named_parameters(), without.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_dashboard_spaces_out_probes_that_take_too_long():
    # A probe takes well over a microsecond; allowed 1e-6 of the time, the next one is due seconds later
    dashboard = DashboardCallback(port=0, probe_data=_images(40, seed=6), probe_interval=1e-9,
                                  max_probe_share=1e-6)
    try:
        _train([dashboard])
        _, data, _ = _request(dashboard.server, "GET", "/api/training")
        assert [probe[0] for probe in data["probes"]] == [0, 16]  # at the start and at the end only
    finally:
        dashboard.close()


def test_dashboard_before_training_has_no_model_yet():
    dashboard = DashboardCallback(port=0)
    try:
        status, data, _ = _request(dashboard.server, "GET", "/api/training")
        assert status == 200 and data["status"] == "waiting" and data["batches"] == []
        status, data, _ = _request(dashboard.server, "POST", "/predict", {"pixels": _pixels()})
        assert status == 503 and "no model yet" in data["error"]
        _, weights, _ = _request(dashboard.server, "GET", "/api/weights")
        assert weights["tiles"] == 0
    finally:
        dashboard.close()


def test_dashboard_of_a_model_on_other_inputs_shows_curves_and_says_why_there_is_no_draw_page():
    x, y = on.datasets.make_moons(200, seed=0)
    dashboard = DashboardCallback(port=0, probe_data=(x, y), probe_interval=0)
    try:
        model = on.mlp([2, 8, 2])
        on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.1), x, y, epochs=2,
               batch_size=50, verbose=False, callbacks=[dashboard])
        _, data, _ = _request(dashboard.server, "GET", "/api/training")
        assert data["status"] == "finished" and len(data["batches"]) == 8 and len(data["probes"]) == 10
        _, weights, _ = _request(dashboard.server, "GET", "/api/weights")
        assert weights["tiles"] == 0
        status, data, _ = _request(dashboard.server, "GET", "/api/samples")
        assert status == 503 and "28x28" in data["error"]
    finally:
        dashboard.close()


@pytest.mark.parametrize("kwargs, fragment", [
    ({"probe_interval": -1}, "probe_interval"), ({"probe_size": 0}, "probe_size"),
    ({"max_probe_share": 0}, "max_probe_share"), ({"max_probe_share": 1.5}, "max_probe_share"),
    ({"probe_data": (np.zeros((3, 784)), np.zeros(2))}, "probe_data"),
])
def test_dashboard_arguments_are_validated(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        DashboardCallback(port=0, **kwargs)
