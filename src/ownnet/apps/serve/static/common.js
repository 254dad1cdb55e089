// Small helpers shared by the draw page and the dashboard.
"use strict";

(function (global) {
  async function fetchJSON(url, options) {
    const response = await fetch(url, options);
    const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) {
      const error = new Error(body.error || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Activation strength 0..1 -> dark navy .. amber .. near white (a perceptual-ish "inferno" ramp).
  const HEAT = [[13, 8, 35], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
  function heat(t) {
    t = Math.min(1, Math.max(0, t)) * (HEAT.length - 1);
    const i = Math.min(HEAT.length - 2, Math.floor(t)), f = t - i;
    return HEAT[i].map((c, k) => Math.round(c + (HEAT[i + 1][k] - c) * f));
  }

  // -1..1 -> blue .. white .. red, for signed weights.
  function diverging(t) {
    t = Math.min(1, Math.max(-1, t));
    const blue = [37, 99, 235], red = [220, 38, 38], white = [248, 248, 248];
    const end = t < 0 ? blue : red, a = Math.abs(t);
    return white.map((c, k) => Math.round(c + (end[k] - c) * a));
  }

  // Draw a (28*28) array of 0..1 (or 0..255 with scale 1/255) into a 28x28 canvas, white on black.
  function drawDigit(canvas, pixels, scale) {
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(Math.min(1, Math.max(0, pixels[i] * (scale || 1))) * 255);
      image.data[i * 4] = image.data[i * 4 + 1] = image.data[i * 4 + 2] = v;
      image.data[i * 4 + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  }

  function describeModel(model) {
    if (!model) return "no model yet";
    const names = model.layers.join(" → ");
    return `${names} · ${model.parameters.toLocaleString("en")} parameters`;
  }

  function percent(p, digits) {
    return `${(100 * p).toFixed(digits === undefined ? 1 : digits)} %`;
  }

  global.Ownnet = { fetchJSON, el, heat, diverging, drawDigit, describeModel, percent };
})(window);
