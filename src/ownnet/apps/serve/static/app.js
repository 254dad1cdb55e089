// The draw page: a pad to draw on, the 28x28 input the network sees, the prediction with one bar
// per class, the hidden layers' activations and a panel of random test digits.
"use strict";

(function () {
  const { fetchJSON, el, heat, diverging, drawDigit, describeModel, percent } = window.Ownnet;
  const pad = document.getElementById("pad");
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  const input28 = document.getElementById("input28");
  const PEN_WIDTH = 20; // in pad pixels (280 wide): about the stroke of an MNIST digit after scaling

  // inflight: a request is on its way; dirty: the drawing changed since the last request was sent.
  const state = { drawing: false, last: null, inflight: false, dirty: false, scheduled: false,
                  result: null, requests: 0, pixels: null, nClasses: 10, error: null };

  // --- the pad ------------------------------------------------------------------------------------
  function clearPad() {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, pad.width, pad.height);
  }

  function padPoint(event) {
    const rect = pad.getBoundingClientRect();
    return [(event.clientX - rect.left) * pad.width / rect.width,
            (event.clientY - rect.top) * pad.height / rect.height];
  }

  function strokeTo(point) {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = PEN_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(state.last[0], state.last[1]);
    ctx.lineTo(point[0], point[1]);
    ctx.stroke();
    state.last = point;
  }

  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    state.drawing = true;
    state.last = padPoint(event);
    strokeTo(state.last); // a dot for a tap
    changed();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!state.drawing) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) strokeTo(padPoint(e));
    changed();
  });
  const stop = () => { if (state.drawing) { state.drawing = false; changed(); } };
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);

  document.getElementById("clear").addEventListener("click", () => {
    clearPad();
    state.result = null;
    changed();
  });

  // --- prediction: at most one request in flight, always for the latest drawing ----------------------
  function changed() {
    state.dirty = true;
    if (!state.scheduled) {
      state.scheduled = true;
      requestAnimationFrame(() => { state.scheduled = false; pump(); });
    }
  }

  function readPad() {
    const rgba = ctx.getImageData(0, 0, pad.width, pad.height).data;
    const gray = new Uint8Array(pad.width * pad.height);
    for (let i = 0; i < gray.length; i++) gray[i] = rgba[i * 4];
    return gray;
  }

  async function pump() {
    if (state.inflight || !state.dirty) return;
    state.dirty = false;
    const pixels = window.OwnnetPreprocess.mnistStyle(readPad(), pad.width, pad.height);
    state.pixels = pixels;
    drawDigit(input28, pixels);
    document.getElementById("input-caption").textContent =
      "28×28 pixels: the ink cropped, scaled to fit 20×20 and centred by its centre of mass, as MNIST digits are.";
    if (!pixels.some((v) => v > 0)) {
      showEmpty();
      return;
    }
    await predict(pixels);
    if (state.dirty) pump();
  }

  async function predict(pixels) {
    state.inflight = true;
    try {
      const result = await fetchJSON("/predict", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ pixels: Array.from(pixels) }),
      });
      state.requests += 1;
      state.result = result;
      state.error = null;
      showResult(result);
    } catch (error) {
      state.error = error.message;
      document.getElementById("confidence").textContent = error.message;
    } finally {
      state.inflight = false;
    }
  }

  // --- showing results -------------------------------------------------------------------------------
  function buildBars(n) {
    const bars = document.getElementById("bars");
    bars.replaceChildren();
    for (let k = 0; k < n; k++) {
      const row = el("div", "bar-row");
      row.setAttribute("role", "listitem");
      row.dataset.class = String(k);
      row.dataset.p = "0";
      const track = el("div", "bar-track");
      track.append(el("div", "bar-fill"));
      row.append(el("span", "bar-label", String(k)), track, el("span", "bar-value", ""));
      bars.append(row);
    }
  }

  function showEmpty() {
    document.getElementById("prediction").textContent = "·";
    document.getElementById("confidence").textContent = "draw something";
    for (const row of document.querySelectorAll(".bar-row")) {
      row.dataset.p = "0";
      row.classList.remove("top");
      row.querySelector(".bar-fill").style.width = "0%";
      row.querySelector(".bar-value").textContent = "";
    }
    document.getElementById("layers").replaceChildren(el("p", "muted small", "The activations appear as you draw."));
    document.body.dataset.prediction = "";
  }

  function showResult(result) {
    const p = result.probabilities;
    if (document.querySelectorAll(".bar-row").length !== p.length) buildBars(p.length);
    document.getElementById("prediction").textContent = String(result.prediction);
    document.getElementById("confidence").textContent = `${percent(p[result.prediction])} sure`;
    document.querySelectorAll(".bar-row").forEach((row, k) => {
      row.dataset.p = String(p[k]);
      row.classList.toggle("top", k === result.prediction);
      row.querySelector(".bar-fill").style.width = `${(100 * p[k]).toFixed(2)}%`;
      row.querySelector(".bar-value").textContent = percent(p[k]);
    });
    showLayers(result.activations);
    document.body.dataset.prediction = String(result.prediction);
  }

  function showLayers(layers) {
    const box = document.getElementById("layers");
    box.replaceChildren();
    if (!layers.length) {
      box.append(el("p", "muted small", "This model has no hidden layer: the pixels go straight to the outputs."));
      return;
    }
    layers.forEach((layer, number) => {
      const values = layer.values;
      let max = 0, min = 0, active = 0;
      for (const v of values) { if (v > max) max = v; if (v < min) min = v; if (v > 0) active += 1; }
      const signed = min < 0;
      const scale = Math.max(max, -min) || 1;
      const cols = Math.min(values.length, 64), rows = Math.ceil(values.length / cols), cell = 10;
      const canvas = el("canvas", "strip");
      canvas.width = cols * cell;
      canvas.height = rows * cell;
      const c = canvas.getContext("2d");
      c.fillStyle = "#f1f2f6";
      c.fillRect(0, 0, canvas.width, canvas.height);
      values.forEach((v, i) => {
        const [r, g, b] = signed ? diverging(v / scale) : heat(v / scale);
        c.fillStyle = `rgb(${r},${g},${b})`;
        c.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - 1, cell - 1);
      });
      canvas.addEventListener("mousemove", (event) => {
        const rect = canvas.getBoundingClientRect();
        const x = Math.floor((event.clientX - rect.left) / rect.width * cols);
        const y = Math.floor((event.clientY - rect.top) / rect.height * rows);
        const i = y * cols + x;
        canvas.title = i < values.length ? `unit ${i}: ${values[i].toFixed(3)}` : "";
      });
      const label = el("div", "layer-label");
      label.append(el("strong", "", `hidden layer ${number + 1}`),
                   el("span", "muted", ` · ${layer.name} · ${values.length} units · ${active} active` +
                      ` · strongest ${scale.toFixed(2)}`));
      const wrap = el("div", "layer");
      wrap.append(label, canvas);
      box.append(wrap);
    });
  }

  // --- the test digits panel ---------------------------------------------------------------------
  async function loadSamples() {
    const box = document.getElementById("samples");
    const note = document.getElementById("samples-note");
    try {
      const { samples } = await fetchJSON("/api/samples?count=12");
      note.hidden = true;
      box.replaceChildren();
      for (const sample of samples) {
        const button = el("button", "sample " + (sample.prediction === sample.label ? "right" : "wrong"));
        button.type = "button";
        const canvas = el("canvas");
        canvas.width = canvas.height = 28;
        drawDigit(canvas, sample.pixels, 1 / 255);
        const caption = el("span", "sample-caption",
                           `${sample.label} → ${sample.prediction}  ${percent(sample.confidence, 0)}`);
        button.title = `test image #${sample.index}: labelled ${sample.label}, the model says ` +
                       `${sample.prediction} (${percent(sample.confidence)})`;
        button.append(canvas, caption);
        button.addEventListener("click", () => showSample(sample));
        box.append(button);
      }
    } catch (error) {
      box.replaceChildren();
      note.hidden = false;
      note.textContent = error.message;
    }
  }

  function showSample(sample) {
    clearPad();
    const pixels = Float32Array.from(sample.pixels, (v) => v / 255);
    state.pixels = pixels;
    drawDigit(input28, pixels);
    document.getElementById("input-caption").textContent =
      `MNIST test image #${sample.index}, labelled ${sample.label}: the network's input as it is.`;
    predict(pixels);
  }

  document.getElementById("more").addEventListener("click", loadSamples);

  // --- start ----------------------------------------------------------------------------------------
  async function start() {
    clearPad();
    drawDigit(input28, new Float32Array(784));
    try {
      const info = await fetchJSON("/api/info");
      document.getElementById("model-line").textContent = describeModel(info.model);
      document.getElementById("dashboard-link").hidden = !info.training;
      if (info.model) state.nClasses = info.model.classes;
    } catch (error) {
      document.getElementById("model-line").textContent = error.message;
    }
    buildBars(state.nClasses);
    loadSamples();
    document.body.dataset.ready = "1";
  }

  // For tests and the curious: the page's state, and whether the latest drawing has its prediction.
  window.ownnetPage = {
    state,
    settled: () => !state.inflight && !state.dirty && !state.scheduled && !state.drawing,
    clear: () => document.getElementById("clear").click(),
  };
  start();
})();
