// The training dashboard: loss and accuracy curves and the first-layer weights, polled from
// /api/training (only the batches not seen yet) and /api/weights (when they changed).
"use strict";

(function () {
  const { fetchJSON, el, diverging, percent } = window.Ownnet;
  // The browser shares the machine with the training: ask once a second, redraw only what changed,
  // and not at all while the tab is hidden.
  const POLL_MS = 1000;
  const WEIGHTS_MS = 2000;
  const data = { batches: [], probes: [], epochs: [], status: "waiting", weightsVersion: -1,
                 weightsShown: -1, weightsAt: 0, polls: 0, info: null };

  // --- charts: a small line plotter on a canvas --------------------------------------------------------
  function niceStep(range, ticks) {
    const raw = range / ticks, power = 10 ** Math.floor(Math.log10(raw));
    const unit = [1, 2, 2.5, 5, 10].find((m) => m * power >= raw) || 10;
    return unit * power;
  }

  // The nearest of 1, 2, 5 x 10^k above (up) or below v.
  function niceLog(v, up) {
    const k = Math.floor(Math.log10(v));
    const steps = [1, 2, 5, 10].map((m) => m * 10 ** k);
    return up ? steps.find((s) => s >= v * 0.999) : [...steps].reverse().find((s) => s <= v * 1.001);
  }

  // yLog: a logarithmic y axis (for losses that fall over decades), ticks at 1, 2, 5 x 10^k.
  function drawChart(canvas, { series, xMax, yMin, yMax, yFormat, epochSteps, yLog }) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width, height = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(width * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const c = canvas.getContext("2d");
    c.setTransform(ratio, 0, 0, ratio, 0, 0);
    c.clearRect(0, 0, width, height);
    const left = 52, right = 12, top = 10, bottom = 28;
    const w = width - left - right, h = height - top - bottom;
    const X = (x) => left + (x / Math.max(xMax, 1)) * w;
    const t = yLog ? Math.log10 : (v) => v;
    const Y = (y) => top + (1 - (t(Math.min(Math.max(y, yMin), yMax)) - t(yMin)) / (t(yMax) - t(yMin))) * h;
    c.font = "11px system-ui, sans-serif";
    c.fillStyle = "#6b7280";
    c.strokeStyle = "#e5e7eb";
    c.lineWidth = 1;
    const ticks = [];
    if (yLog) {
      for (let k = Math.floor(Math.log10(yMin)); k <= Math.ceil(Math.log10(yMax)); k++) {
        for (const m of [1, 2, 5]) {
          const v = m * 10 ** k;
          if (v >= yMin * 0.999 && v <= yMax * 1.001) ticks.push(v);
        }
      }
    } else {
      const yStep = niceStep(yMax - yMin, 5);
      for (let y = Math.ceil(yMin / yStep) * yStep; y <= yMax + 1e-9; y += yStep) ticks.push(y);
    }
    for (const y of ticks) {
      c.beginPath(); c.moveTo(left, Y(y)); c.lineTo(left + w, Y(y)); c.stroke();
      c.textAlign = "right"; c.textBaseline = "middle";
      c.fillText(yFormat(y), left - 6, Y(y));
    }
    c.textAlign = "center"; c.textBaseline = "top";
    (epochSteps || []).forEach((step, i) => {
      c.setLineDash([3, 3]); c.strokeStyle = "#d1d5db";
      c.beginPath(); c.moveTo(X(step), top); c.lineTo(X(step), top + h); c.stroke();
      c.setLineDash([]);
      c.fillText(`epoch ${i + 1}`, Math.min(X(step), left + w - 24), top + h + 6);
    });
    if (!epochSteps || !epochSteps.length) c.fillText("batches", left + w / 2, top + h + 6);
    for (const s of series) {
      if (!s.points.length) continue;
      c.strokeStyle = c.fillStyle = s.color;
      c.lineWidth = s.width || 1.5;
      if (s.line !== false) {
        c.beginPath();
        s.points.forEach(([x, y], i) => (i ? c.lineTo(X(x), Y(y)) : c.moveTo(X(x), Y(y))));
        c.stroke();
      }
      if (s.marker) {
        for (const [x, y] of s.points) {
          c.beginPath();
          if (s.marker === "square") c.rect(X(x) - 3.5, Y(y) - 3.5, 7, 7);
          else c.arc(X(x), Y(y), 4, 0, 2 * Math.PI);
          c.fill();
        }
      }
    }
  }

  function smooth(points, beta) {
    let avg = null;
    return points.map(([x, y]) => {
      avg = avg === null ? y : beta * avg + (1 - beta) * y;
      return [x, avg];
    });
  }

  function render() {
    const xMax = Math.max(data.batches.length ? data.batches[data.batches.length - 1][0] : 1,
                          (data.stepsPerEpoch || 0) * (data.totalEpochs || 0)) || 1;
    const epochSteps = data.epochs.map((e) => e.step);
    const smoothed = smooth(data.batches, 0.95);
    const valLoss = data.epochs.filter((e) => e.val_loss !== undefined).map((e) => [e.step, e.val_loss]);
    const shown = [...smoothed, ...valLoss].map((p) => p[1]).filter((v) => v > 0);
    const lossMax = shown.length ? Math.max(...shown) : 3, lossMin = shown.length ? Math.min(...shown) : 0.1;
    drawChart(document.getElementById("loss-chart"), {
      xMax, yLog: true, epochSteps, yFormat: (y) => String(Number(y.toPrecision(2))),
      yMin: niceLog(Math.max(lossMin, 1e-4), false), yMax: niceLog(lossMax, true),
      series: [
        { points: data.batches, color: "rgba(37, 99, 235, 0.25)", width: 1 },
        { points: smoothed, color: "#2563eb", width: 2.5 },
        { points: valLoss, color: "#f59e0b", line: false, marker: "dot" },
      ],
    });
    const trainAcc = data.epochs.filter((e) => e.accuracy !== undefined).map((e) => [e.step, e.accuracy]);
    const valAcc = data.epochs.filter((e) => e.val_accuracy !== undefined).map((e) => [e.step, e.val_accuracy]);
    // the y range follows the later part of training (the first probes, near chance, enter from below)
    const later = data.probes.slice(Math.floor(data.probes.length / 4));
    const all = [...later, ...trainAcc, ...valAcc].map((p) => p[1]);
    const low = all.length ? Math.min(...all) : 0;
    const yMin = Math.max(0, Math.floor((low - 0.02) * 20) / 20);
    drawChart(document.getElementById("accuracy-chart"), {
      xMax, yMin, yMax: 1, epochSteps, yFormat: (y) => `${Math.round(y * 100)}%`,
      series: [
        { points: data.probes, color: "#10b981", width: 2 },
        { points: trainAcc, color: "#2563eb", line: false, marker: "square" },
        { points: valAcc, color: "#f59e0b", line: false, marker: "dot" },
      ],
    });
  }

  function renderStatus(snapshot) {
    const parts = [snapshot.status];
    if (snapshot.epochs) parts.push(`epoch ${Math.min(snapshot.epoch + (snapshot.status === "training" ? 1 : 0), snapshot.epochs)} of ${snapshot.epochs}`);
    parts.push(`${snapshot.step.toLocaleString("en")} batches`);
    if (snapshot.elapsed !== null) parts.push(`${snapshot.elapsed.toFixed(1)} s`);
    const last = data.epochs[data.epochs.length - 1];
    if (last && last.samples_per_second) parts.push(`${Math.round(last.samples_per_second).toLocaleString("en")} samples/s`);
    if (last && last.val_accuracy !== undefined) parts.push(`test accuracy ${percent(last.val_accuracy, 2)}`);
    else if (data.probes.length) parts.push(`held-out accuracy ${percent(data.probes[data.probes.length - 1][1])}`);
    document.getElementById("status-line").textContent = parts.join(" · ");
    document.body.dataset.status = snapshot.status;
  }

  function renderEpochs() {
    const body = document.querySelector("#epochs tbody");
    body.replaceChildren();
    const f = (v, digits) => (v === undefined ? "–" : v.toFixed(digits));
    for (const e of data.epochs) {
      const row = el("tr");
      [String(e.epoch), f(e.loss, 4), e.accuracy === undefined ? "–" : percent(e.accuracy, 2),
       f(e.val_loss, 4), e.val_accuracy === undefined ? "–" : percent(e.val_accuracy, 2), f(e.seconds, 2),
       e.samples_per_second === undefined ? "–" : Math.round(e.samples_per_second).toLocaleString("en")]
        .forEach((text) => row.append(el("td", "", text)));
      body.append(row);
    }
  }

  // --- weights -----------------------------------------------------------------------------------------
  async function loadWeights() {
    const weights = await fetchJSON("/api/weights");
    data.weightsShown = weights.version;
    const canvas = document.getElementById("weights");
    const note = document.getElementById("weights-note");
    if (!weights.tiles) {
      note.textContent = "No first layer on 28×28 inputs to show.";
      return;
    }
    const bytes = Uint8Array.from(atob(weights.data), (ch) => ch.charCodeAt(0));
    const values = new Int8Array(bytes.buffer);
    const perRow = Math.min(weights.tiles, 16), rows = Math.ceil(weights.tiles / perRow);
    const zoom = 2, gap = 4, side = 28 * zoom;
    canvas.width = perRow * (side + gap) - gap;
    canvas.height = rows * (side + gap) - gap;
    const c = canvas.getContext("2d");
    const image = c.createImageData(28, 28);
    const tile = document.createElement("canvas");
    tile.width = tile.height = 28;
    const t = tile.getContext("2d");
    c.imageSmoothingEnabled = false;
    for (let n = 0; n < weights.tiles; n++) {
      for (let i = 0; i < 784; i++) {
        const [r, g, b] = diverging(values[n * 784 + i] / 127);
        image.data.set([r, g, b, 255], i * 4);
      }
      t.putImageData(image, 0, 0);
      c.drawImage(tile, (n % perRow) * (side + gap), Math.floor(n / perRow) * (side + gap), side, side);
    }
    note.textContent = `${weights.tiles} hidden units of the first layer, each scaled to its own largest ` +
      `weight (update ${weights.version}).`;
  }

  // --- polling -------------------------------------------------------------------------------------------
  async function poll() {
    try {
      const snapshot = await fetchJSON(`/api/training?since=${data.batches.length}`);
      data.polls += 1;
      const changed = snapshot.batches.length > 0 || snapshot.status !== data.status ||
                      snapshot.probes.length !== data.probes.length || data.polls === 1;
      if (snapshot.since === data.batches.length) data.batches.push(...snapshot.batches);
      data.probes = snapshot.probes;
      data.epochs = snapshot.epoch_logs;
      data.status = snapshot.status;
      data.stepsPerEpoch = snapshot.steps_per_epoch;
      data.totalEpochs = snapshot.epochs;
      data.weightsVersion = snapshot.weights_version;
      renderStatus(snapshot);
      if (changed) {
        render();
        if (snapshot.epoch_logs.length !== document.querySelectorAll("#epochs tbody tr").length) renderEpochs();
      }
      const now = Date.now();
      if (data.weightsVersion !== data.weightsShown && (now - data.weightsAt > WEIGHTS_MS || snapshot.status !== "training")) {
        data.weightsAt = now;
        await loadWeights();
      }
      document.body.dataset.polls = String(data.polls);
    } catch (error) {
      document.getElementById("status-line").textContent = `no connection to the training (${error.message})`;
    }
    const done = data.status === "finished" || data.status === "stopped";
    if (!done || data.weightsVersion !== data.weightsShown) schedule();
  }

  function schedule() {
    if (document.hidden) document.addEventListener("visibilitychange", schedule, { once: true });
    else setTimeout(poll, POLL_MS);
  }

  window.ownnetDashboard = { data };
  poll();
})();
