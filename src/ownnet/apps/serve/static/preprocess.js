// The MNIST-style preprocessing of ownnet.images.mnist_style, ported line by line so that the page
// shows exactly the 28x28 input the network gets: white ink on black, cropped to the ink, scaled
// so that the longer side is 20 pixels (Pillow's Lanczos filter, reproduced below), placed in a
// 28x28 frame and shifted so that the centre of mass sits at the centre.
"use strict";

(function (global) {
  const PRECISION_BITS = 32 - 8 - 2; // Pillow's fixed-point precision for 8-bit images
  const ONE = 2 ** PRECISION_BITS;

  function lanczos(x) {
    if (x < -3 || x >= 3) return 0;
    const sinc = (t) => (t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t));
    return sinc(x) * sinc(x / 3);
  }

  // Pillow's precompute_coeffs + normalize_coeffs_8bpc: for each output pixel, the first input
  // pixel and integer weights of the input pixels it averages.
  function coefficients(inSize, outSize) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = 3 * filterScale;
    const ss = 1 / filterScale;
    const rows = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
      const weights = [];
      let total = 0;
      for (let x = 0; x < xmax; x++) {
        const w = lanczos((x + xmin - center + 0.5) * ss);
        weights.push(w);
        total += w;
      }
      const fixed = weights.map((w) => {
        const k = total !== 0 ? w / total : w;
        return k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
      });
      rows.push({ xmin, weights: fixed });
    }
    return rows;
  }

  function clip8(sum) {
    const v = Math.floor(sum / ONE); // an arithmetic shift right by PRECISION_BITS
    return v <= 0 ? 0 : v >= 255 ? 255 : v;
  }

  // One pass of the separable filter along the rows (horizontal) or the columns (vertical) of a
  // (height, width) uint8 image, rounded back to 8 bits.
  function resamplePass(img, width, height, outSize, horizontal) {
    const coeffs = coefficients(horizontal ? width : height, outSize);
    const outW = horizontal ? outSize : width, outH = horizontal ? height : outSize;
    const out = new Uint8Array(outW * outH);
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        const { xmin: first, weights } = coeffs[horizontal ? x : y];
        let sum = ONE / 2;
        for (let i = 0; i < weights.length; i++) {
          sum += (horizontal ? img[y * width + first + i] : img[(first + i) * width + x]) * weights[i];
        }
        out[y * outW + x] = clip8(sum);
      }
    }
    return out;
  }

  // Resize a (height, width) uint8 image to (outH, outW) as Pillow 13's ImagingResample does: two
  // passes, horizontal first unless the height shrinks by more than twice as many pixels as the width.
  function resizeLanczos(src, width, height, outW, outH) {
    const verticalFirst = height - outH > 0 && height - outH > (width - outW) * 2;
    let img = src;
    if (verticalFirst) {
      if (outH !== height) img = resamplePass(img, width, height, outH, false);
      if (outW !== width) img = resamplePass(img, width, outH, outW, true);
    } else {
      if (outW !== width) img = resamplePass(img, width, height, outW, true);
      if (outH !== height) img = resamplePass(img, outW, height, outH, false);
    }
    return img;
  }

  // Python's round(): halves go to the even neighbour.
  function roundHalfEven(x) {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  const f32 = Math.fround;
  const THRESHOLD = f32(0.1);

  // gray: Uint8Array or array of 0..255 values, row by row, (height, width), either polarity.
  // Returns a Float32Array(784) in [0, 1]: the network's input.
  function mnistStyle(gray, width, height) {
    const n = width * height;
    const g = new Float32Array(n);
    for (let i = 0; i < n; i++) g[i] = gray[i] / 255;
    let border = 0;
    let count = 0;
    for (let x = 0; x < width; x++) { border += g[x] + g[(height - 1) * width + x]; count += 2; }
    for (let y = 0; y < height; y++) { border += g[y * width] + g[y * width + width - 1]; count += 2; }
    if (border / count > 0.5) for (let i = 0; i < n; i++) g[i] = f32(1 - g[i]);
    let top = height, bottom = -1, left = width, right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (!(g[i] > THRESHOLD)) { g[i] = 0; continue; }
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
    const frame = new Float32Array(784);
    if (bottom < 0) return frame;
    const cropH = bottom - top + 1, cropW = right - left + 1;
    const crop = new Uint8Array(cropW * cropH);
    for (let y = 0; y < cropH; y++) {
      for (let x = 0; x < cropW; x++) {
        crop[y * cropW + x] = Math.trunc(f32(g[(top + y) * width + left + x] * 255));
      }
    }
    const scale = 20 / Math.max(cropH, cropW);
    const outW = Math.max(1, roundHalfEven(cropW * scale));
    const outH = Math.max(1, roundHalfEven(cropH * scale));
    const small = resizeLanczos(crop, cropW, cropH, outW, outH);
    const top28 = Math.floor((28 - outH) / 2), left28 = Math.floor((28 - outW) / 2);
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) frame[(top28 + y) * 28 + left28 + x] = f32(small[y * outW + x] / 255);
    }
    let total = 0, cy = 0, cx = 0;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = frame[y * 28 + x];
        total += v; cy += v * y; cx += v * x;
      }
    }
    const dy = roundHalfEven(13.5 - cy / total), dx = roundHalfEven(13.5 - cx / total);
    const out = new Float32Array(784);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        // np.roll: what leaves one side comes back on the other
        const v = frame[(((y - dy) % 28 + 28) % 28) * 28 + (((x - dx) % 28 + 28) % 28)];
        out[y * 28 + x] = Math.min(1, Math.max(0, v));
      }
    }
    return out;
  }

  global.OwnnetPreprocess = { mnistStyle, resizeLanczos };
})(window);
