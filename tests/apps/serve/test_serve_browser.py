"""The draw page and the dashboard in a real browser: headless Chromium (Debian's ``chromium``) driven
by Playwright, which uses the system browser (``executable_path``), never a downloaded one.

Skipped with a reason when Playwright or Chromium is missing, or without the MNIST files.

What is drawn: the ten digits below, each a few polylines on the 280x280 pad, in the shapes people
write — an oval 0, a slanted stroke 1, a 2 with a flat base, a two-bowl 3, an open-top 4, a 5 with
a flag and a bowl, a 6 with a hooked top, a 7 with a bar, a lemniscate 8 and a 9 with a straight
tail. A 784-128-10 MLP trained for 2 epochs on 30,000 MNIST digits (a second on two cores)
recognises all ten with confidence > 0.8 (checked across seeds 0-3 while writing them).
Screenshots go to the pytest tmp folder (``draw-page.png``, ``dashboard.png``).
"""

import base64
import io
import math
import os
import shutil
import threading

import numpy as np
import pytest

import ownnet as on
from ownnet.apps.images import mnist_style
from ownnet.apps.serve import DashboardCallback, Predictor, make_server, start_in_thread

Image = pytest.importorskip("PIL.Image", reason="comparing the page with mnist_style needs Pillow")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need Playwright: "
                               "pip install playwright (it drives the system Chromium)")
CHROMIUM = os.environ.get("OWNNET_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    pytest.skip("no Chromium installed (Debian: apt-get install chromium); OWNNET_CHROMIUM names another",
                allow_module_level=True)

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# --- the digits, as strokes in pad coordinates (0..1, y down) -------------------------------------------
def _arc(cx, cy, rx, ry, start, stop, n=24):
    """Points on an ellipse from angle ``start`` to ``stop`` in degrees (0 = right, 90 = down)."""
    return [(cx + rx * math.cos(math.radians(start + (stop - start) * k / n)),
             cy + ry * math.sin(math.radians(start + (stop - start) * k / n))) for k in range(n + 1)]


def _line(*points, n=6):
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        out += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
    return out


def _eight():
    return [(0.5 - 0.2 * math.sin(4 * math.pi * k / 40), 0.5 - 0.34 * math.cos(2 * math.pi * k / 40))
            for k in range(41)]


DIGIT_STROKES = {
    0: [_arc(0.5, 0.5, 0.2, 0.33, -90, 270, 32)],
    1: [_line((0.53, 0.16), (0.47, 0.84))],
    2: [_arc(0.5, 0.34, 0.19, 0.17, 190, 390, 16) + _line((0.64, 0.46), (0.31, 0.84), (0.72, 0.84))[1:]],
    3: [_arc(0.48, 0.32, 0.18, 0.16, 200, 450, 16) + _arc(0.48, 0.66, 0.2, 0.18, -90, 160, 16)[1:]],
    4: [_line((0.36, 0.16), (0.32, 0.56), (0.72, 0.56)), _line((0.64, 0.18), (0.64, 0.86))],
    5: [_line((0.7, 0.16), (0.37, 0.16), (0.34, 0.46)) + _arc(0.48, 0.63, 0.2, 0.2, -130, 150, 16)[1:]],
    6: [_arc(0.62, 0.52, 0.26, 0.38, -80, -180, 10) + _arc(0.5, 0.66, 0.17, 0.18, 180, 540, 24)[1:]],
    7: [_line((0.28, 0.18), (0.72, 0.18), (0.44, 0.86))],
    8: [_eight()],
    9: [_arc(0.5, 0.33, 0.17, 0.17, 0, 360, 24) + _line((0.67, 0.33), (0.63, 0.86))[1:]],
}


# --- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return on.datasets.load_mnist(path=mnist_dir)


@pytest.fixture(scope="module")
def model(mnist):
    (x_train, y_train), _ = mnist
    on.manual_seed(0)
    model = on.mlp([784, 128, 10])
    on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.05, momentum=0.9),
           x_train[:30000], y_train[:30000], epochs=2, batch_size=64, seed=0, verbose=False)
    return model


@pytest.fixture(scope="module")
def server(model, mnist):
    _, (x_test, y_test) = mnist
    server = make_server(Predictor(model), samples=(x_test, y_test), port=0)
    start_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1280, "height": 1000}, has_touch=True,
            bypass_csp=True)  # the pages' CSP forbids eval, which Playwright's wait_for_function uses
        yield context
        context.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    yield page
    page.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return tmp_path_factory.mktemp("serve-screenshots")


# --- helpers -------------------------------------------------------------------------------------------
def _draw(page, strokes):
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point)
        page.mouse.up()
    _wait_for_prediction(page)


def _wait_for_prediction(page):
    page.wait_for_function("ownnetPage.settled() && ownnetPage.state.result !== null", timeout=10000)


def _pad_gray(page):
    """The pad's pixels as Python sees them: ``(280, 280)`` in [0, 1] (a lossless PNG of the canvas)."""
    url = page.evaluate("document.getElementById('pad').toDataURL('image/png')")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255


def _shown_probabilities(page):
    return page.eval_on_selector_all(".bar-row", "rows => rows.map(row => Number(row.dataset.p))")


# --- the draw page -------------------------------------------------------------------------------------
def test_drawn_digits_are_recognised(page, server, artifacts):
    predictor = server.predictor
    wrong = {}
    for digit, strokes in DIGIT_STROKES.items():
        page.evaluate("ownnetPage.clear()")
        _draw(page, strokes)
        shown = page.evaluate("document.body.dataset.prediction")
        assert page.text_content("#prediction") == shown
        probabilities = _shown_probabilities(page)
        assert len(probabilities) == 10 and abs(sum(probabilities) - 1.0) < 1e-6
        assert int(np.argmax(probabilities)) == int(shown)
        # The page's 28x28 input is what ownnet.apps.images.mnist_style makes of the pad, and the
        # probabilities shown are the model's for it.
        pixels = np.asarray(page.evaluate("Array.from(ownnetPage.state.pixels)"), dtype=np.float32)
        expected = mnist_style(_pad_gray(page))
        np.testing.assert_allclose(pixels, expected, atol=1.01 / 255, err_msg=f"digit {digit}")
        np.testing.assert_allclose(probabilities, predictor.predict(pixels)["probabilities"], atol=1e-6)
        if int(shown) != digit:
            wrong[digit] = (int(shown), round(max(probabilities), 3))
    page.screenshot(path=str(artifacts / "draw-page.png"), full_page=True)
    assert wrong == {}, f"drawn digit -> (predicted, confidence): {wrong}"


def test_clear_resets_the_prediction(page):
    _draw(page, DIGIT_STROKES[7])
    assert page.evaluate("document.body.dataset.prediction") == "7"
    page.click("#clear")
    page.wait_for_function("ownnetPage.settled() && document.body.dataset.prediction === ''")
    assert page.text_content("#prediction") == "·"
    assert _shown_probabilities(page) == [0.0] * 10
    assert page.evaluate("Array.from(ownnetPage.state.pixels).every(v => v === 0)")


def test_touch_strokes_draw_too(page):
    # A finger on a touch screen: CDP touch events, which the page receives as pointer events
    box = page.locator("#pad").bounding_box()
    session = page.context.new_cdp_session(page)
    (stroke,) = DIGIT_STROKES[1]
    points = [{"x": box["x"] + x * box["width"], "y": box["y"] + y * box["height"]} for x, y in stroke]
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [points[0]]})
    for point in points[1:]:
        session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    _wait_for_prediction(page)
    assert page.evaluate("document.body.dataset.prediction") == "1"


def test_test_digits_panel(page, mnist):
    _, (x_test, y_test) = mnist
    page.wait_for_selector("#samples .sample")
    samples = page.locator("#samples .sample")
    assert samples.count() == 12
    title = samples.first.get_attribute("title")  # "test image #N: labelled L, the model says P (...)"
    index = int(title.split("#")[1].split(":")[0])
    label = int(title.split("labelled ")[1].split(",")[0])
    assert label == y_test[index]
    samples.first.click()
    _wait_for_prediction(page)
    assert f"#{index}, labelled {label}" in page.text_content("#input-caption")
    pixels = np.asarray(page.evaluate("Array.from(ownnetPage.state.pixels)"))
    np.testing.assert_allclose(pixels, x_test[index], atol=0.51 / 255)
    guess = int(title.split("the model says ")[1].split(" ")[0])
    assert page.evaluate("document.body.dataset.prediction") == str(guess)
    assert page.locator("#layers canvas.strip").count() == 1


# --- the dashboard -------------------------------------------------------------------------------------
def test_dashboard_follows_training(browser, mnist, artifacts):
    (x_train, y_train), (x_test, y_test) = mnist
    dashboard = DashboardCallback(port=0, epochs=2, probe_data=(x_test[:500], y_test[:500]),
                                  probe_interval=0.05)
    page = browser.new_page()
    try:
        page.goto(dashboard.url + "dashboard")
        page.wait_for_selector("body[data-status='waiting']")
        on.manual_seed(0)
        model = on.mlp([784, 64, 10])
        # Training holds after epoch 1 until the page has shown it: the test sees the page live.
        resume = threading.Event()
        hold = on.LambdaCallback(on_epoch_end=lambda epoch, logs: epoch == 1 and resume.wait(20))

        def train():
            on.fit(model, on.CrossEntropyLoss(), on.SGD(model.parameters(), lr=0.05, momentum=0.9),
                   x_train[:10000], y_train[:10000], epochs=2, batch_size=64, seed=0, verbose=False,
                   validation_data=(x_test[:2000], y_test[:2000]), callbacks=[dashboard, hold])

        thread = threading.Thread(target=train)
        thread.start()
        try:
            page.wait_for_function("ownnetDashboard.data.status === 'training' && "
                                   "ownnetDashboard.data.epochs.length === 1", timeout=20000)
            assert page.locator("#epochs tbody tr").count() == 1
            assert "epoch 2 of 2" in page.text_content("#status-line")
            assert len(page.evaluate("ownnetDashboard.data.batches")) == 157
        finally:
            resume.set()
            thread.join()
        page.wait_for_selector("body[data-status='finished']", timeout=10000)
        page.wait_for_function("ownnetDashboard.data.weightsShown === ownnetDashboard.data.weightsVersion",
                               timeout=10000)
        data = page.evaluate("ownnetDashboard.data")
        assert len(data["batches"]) == 2 * 157 and data["batches"][-1][0] == 314
        assert page.locator("#epochs tbody tr").count() == 2
        assert "finished" in page.text_content("#status-line")
        # the loss curve was drawn in blue, the weights as 64 tiles
        blue = page.evaluate("""() => { const c = document.getElementById('loss-chart');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 200 && d[i] < 80 && d[i + 3] > 200) n++;
            return n; }""")
        assert blue > 200
        assert "64 hidden units" in page.text_content("#weights-note")
        page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
    finally:
        page.close()
        dashboard.close()
