// Front-end of aevae_lib/explorers: the book's explorers, drawn in the reader's browser.
//
// One anywidget module for the four explorers (the model's "kind" says which). The decoders
// (and the denoising autoencoder's encoder) arrive packed in the "blob" trait, described by
// the "spec" trait, and run here in plain JavaScript: float32 weights (8-bit codes times a
// scale per output unit, with some units in float16, or float16 throughout, as the exporter
// chose), float64 sums, so the page draws what PyTorch computes (explorers/net.py, run_net,
// is the same arithmetic in numpy).
//
// Every control is a native <input> (range or radio) or <button>, labelled, reachable with Tab
// and moved with the keyboard: arrow keys by one step, Page Up/Down by ten, Home/End to the
// ends. Every image is a <canvas role="img"> whose aria-label names what it shows.
//
// For checks and benchmarks, the root element (data-aevae-explorer="<kind>") carries
// `__aevae`: {kind, model, probes, state(), compute: [ms the handler took to decode and draw],
// latency: [ms from the input event (its timeStamp) to the drawn image], frames: [ms from the
// input event to the next animation frame, when the browser shows it]}, and data-state (JSON).

const GRID = 0.01; // values of every slider and of the pointer lie on this grid (k / 100)
const INK_GAP = 0.15; // grey of the gaps between images in a strip, as figures.strip
const TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"];

let uid = 0;
const nextId = (p) => `aevae-x-${p}-${++uid}`;
const snap = (v) => Math.round(v * 100) / 100; // the nearest double to k / 100, as in Python
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const fmt = (v) => { const s = (v + 0).toFixed(2); return s === "-0.00" ? "0.00" : s; };
const norm = (z) => Math.sqrt(z.reduce((s, v) => s + v * v, 0));

// --- packed data ------------------------------------------------------------------------------

function bytesOf(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (value && value.buffer instanceof ArrayBuffer) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  throw new Error("aevae explorer: the blob trait holds no bytes");
}

let F16 = null; // float16 bit pattern -> float32 value, all 65536 of them
function f16Table() {
  if (F16) return F16;
  F16 = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    F16[h] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity)
      : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return F16;
}

const SIZES = { f32: 4, f16: 2, i8: 1, u8: 1, u16: 2 };
function read(bytes, d) {
  const copy = bytes.slice(d.off, d.off + d.n * SIZES[d.dtype]); // aligned copy
  switch (d.dtype) {
    case "f32": return new Float32Array(copy.buffer);
    case "i8": return new Int8Array(copy.buffer);
    case "u8": return copy;
    case "u16": return new Uint16Array(copy.buffer);
    case "f16": {
      const h = new Uint16Array(copy.buffer), t = f16Table(), out = new Float32Array(d.n);
      for (let i = 0; i < d.n; i++) out[i] = t[h[i]];
      return out;
    }
  }
  throw new Error(`aevae explorer: unknown dtype ${d.dtype}`);
}

// --- the network ------------------------------------------------------------------------------

function buildNet(bytes, header) {
  const layers = header.layers.map((L) => {
    const nIn = L.in, nOut = L.out;
    let W; // (out, in), row-major, float32
    if (L.enc === "int8") {
      const q = read(bytes, L.w), s = read(bytes, L.scale);
      W = new Float32Array(nOut * nIn);
      for (let j = 0; j < nOut; j++) {
        const sj = s[j];
        for (let i = 0; i < nIn; i++) W[j * nIn + i] = q[j * nIn + i] * sj;
      }
      if (L.rows) { // output units kept in float16
        const rows = read(bytes, L.rows), w16 = read(bytes, L.rows_w);
        for (let k = 0; k < rows.length; k++) W.set(w16.subarray(k * nIn, (k + 1) * nIn), rows[k] * nIn);
      }
    } else {
      W = read(bytes, L.w);
    }
    const Wt = new Float32Array(nIn * nOut); // (in, out): one input's weights are contiguous
    for (let j = 0; j < nOut; j++) for (let i = 0; i < nIn; i++) Wt[i * nOut + j] = W[j * nIn + i];
    return { nIn, nOut, act: L.act, Wt, b: read(bytes, L.b), h: new Float64Array(nOut) };
  });
  return { layers, transform: header.transform, keep: header.keep, clamp: header.clamp,
    nIn: layers[0].nIn, nOut: header.keep || layers[layers.length - 1].nOut };
}

function erf(x) { // Abramowitz and Stegun 7.1.26, as explorers/net.py, _erf
  const s = Math.sign(x), a = Math.abs(x), t = 1 / (1 + 0.3275911 * a);
  const p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1 - p * Math.exp(-a * a));
}

function activate(act, h) {
  const n = h.length;
  switch (act) {
    case "relu": for (let i = 0; i < n; i++) if (h[i] < 0) h[i] = 0; break;
    case "tanh": for (let i = 0; i < n; i++) h[i] = Math.tanh(h[i]); break;
    case "sigmoid": for (let i = 0; i < n; i++) h[i] = 1 / (1 + Math.exp(-h[i])); break;
    case "elu": for (let i = 0; i < n; i++) if (h[i] <= 0) h[i] = Math.expm1(h[i]); break;
    case "gelu": for (let i = 0; i < n; i++) h[i] = 0.5 * h[i] * (1 + erf(h[i] / Math.SQRT2)); break;
    case "gelu_tanh":
      for (let i = 0; i < n; i++) {
        const v = h[i];
        h[i] = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
      }
      break;
  }
}

function cbMean(l) { // mean of a continuous Bernoulli with logits l, as torch computes it
  const eps = 1.1920928955078125e-7;
  const p = clamp(1 / (1 + Math.exp(-l)), eps, 1 - eps);
  if (p <= 0.499 || p > 0.501) return p / (2 * p - 1) + 1 / (Math.log1p(-p) - Math.log(p));
  const x = p - 0.5;
  return 0.5 + (1 / 3 + (16 / 45) * x * x) * x;
}

// One input vector (length nIn) -> the output written into out (length nOut), at offset.
function runNet(net, x, out, offset = 0) {
  let h = x;
  for (const L of net.layers) {
    const y = L.h, nOut = L.nOut, Wt = L.Wt;
    for (let j = 0; j < nOut; j++) y[j] = L.b[j];
    for (let i = 0; i < L.nIn; i++) {
      const xi = h[i];
      if (xi === 0) continue; // after a ReLU, about half the inputs
      const base = i * nOut;
      for (let j = 0; j < nOut; j++) y[j] += xi * Wt[base + j];
    }
    activate(L.act, y);
    h = y;
  }
  for (let j = 0; j < net.nOut; j++) {
    let v = h[j];
    if (net.transform === "sigmoid") v = 1 / (1 + Math.exp(-v));
    else if (net.transform === "cb_mean") v = cbMean(v);
    out[offset + j] = net.clamp ? clamp(v, 0, 1) : v;
  }
  return out;
}

// --- random numbers (explorers/beta.py: mulberry32, prior_draws do the same in Python) -----------

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = ((t + Math.imul(t ^ (t >>> 7), 61 | t)) >>> 0) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function priorDraws(seed, n, d) {
  const u = mulberry32(seed), out = new Float64Array(n * d);
  for (let i = 0; i < n * d; i++) {
    const u1 = u(), u2 = u();
    out[i] = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

// --- drawing ----------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

// A canvas for n images of 28 x 28 side by side, each pixel a zoom x zoom block.
function stripCanvas(name, n, zoom, pad = 2) {
  const c = h("canvas", { class: "aevae-x-img", role: "img", "data-image": name,
    "data-n": n, "data-zoom": zoom, "data-pad": pad * zoom });
  c.width = n * 28 * zoom + (n - 1) * pad * zoom;
  c.height = 28 * zoom;
  c.style.width = `${c.width}px`; // shrinks to the column (max-width), keeping its shape
  return c;
}

// Draw n images (ink in [0, 1], 1 = black), optionally reading ink = data[i] / scale.
function drawStrip(canvas, data, n, label, scale = 1) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, zoom = +canvas.dataset.zoom;
  const gap = +canvas.dataset.pad;
  if (!canvas._img || canvas._img.width !== W) {
    canvas._img = ctx.createImageData(W, H);
    canvas._px = new Uint32Array(canvas._img.data.buffer);
  }
  const px = canvas._px;
  const grey = Math.round(255 * (1 - INK_GAP));
  px.fill((0xff000000 | (grey << 16) | (grey << 8) | grey) >>> 0);
  for (let k = 0; k < n; k++) {
    const x0 = k * (28 * zoom + gap);
    for (let r = 0; r < 28; r++) {
      for (let c = 0; c < 28; c++) {
        const ink = clamp(data[k * 784 + r * 28 + c] / scale, 0, 1);
        const v = 255 - Math.round(255 * ink);
        const colour = (0xff000000 | (v << 16) | (v << 8) | v) >>> 0;
        for (let dy = 0; dy < zoom; dy++) {
          const row = (r * zoom + dy) * W + x0 + c * zoom;
          for (let dx = 0; dx < zoom; dx++) px[row + dx] = colour;
        }
      }
    }
  }
  ctx.putImageData(canvas._img, 0, 0);
  if (label !== undefined) canvas.setAttribute("aria-label", label);
}

function add(el, ...children) { // append the children that exist
  for (const c of children) if (c) el.append(c);
  return el;
}

function figure(canvas, caption) {
  return h("figure", { class: "aevae-x-figure" }, canvas, h("figcaption", { text: caption }));
}

// --- controls ---------------------------------------------------------------------------------

const KEYS = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, PageUp: 10, PageDown: -10 };

// A labelled range input on the GRID; keys move it by `step`. onChange(value, event).
function slider({ name, label, min, max, step, value, onChange, text = fmt }) {
  const id = nextId(name);
  const input = h("input", { type: "range", id, min, max, step: GRID, value,
    "data-control": name, "aria-valuetext": text(value) });
  const out = h("output", { for: id, text: text(value) });
  const lab = h("label", { for: id, text: label });
  const set = (v) => {
    input.value = String(v);
    out.textContent = text(v);
    input.setAttribute("aria-valuetext", text(v));
  };
  input.addEventListener("input", (ev) => {
    const v = clamp(snap(+input.value), min, max);
    set(v);
    onChange(v, ev);
  });
  input.addEventListener("keydown", (ev) => {
    let v = +input.value;
    if (ev.key in KEYS) v += KEYS[ev.key] * step;
    else if (ev.key === "Home") v = min;
    else if (ev.key === "End") v = max;
    else return;
    ev.preventDefault();
    v = clamp(snap(v), min, max);
    set(v);
    onChange(v, ev);
  });
  return { el: h("div", { class: "aevae-x-slider" }, lab, input, out), input, set,
    setRange(lo, hi) { input.min = lo; input.max = hi; min = lo; max = hi; } };
}

// A group of radio buttons; options: [{value, label (text or element), control}].
function radios({ name, legend, options, value, onChange, cls = "" }) {
  const group = nextId(name);
  const inputs = [];
  const fs = h("fieldset", { class: `aevae-x-radios ${cls}`, role: "radiogroup",
    "data-control": name }, h("legend", { text: legend }));
  for (const opt of options) {
    const input = h("input", { type: "radio", name: group, value: String(opt.value) });
    input.checked = opt.value === value;
    input._value = opt.value;
    input.addEventListener("change", (ev) => { if (input.checked) onChange(opt.value, ev); });
    inputs.push(input);
    const lab = h("label", { "data-control": opt.control, title: opt.title }, input);
    lab.append(typeof opt.label === "string" ? h("span", { text: opt.label }) : opt.label);
    if (opt.ariaLabel) input.setAttribute("aria-label", opt.ariaLabel);
    fs.append(lab);
  }
  return { el: fs, set(v) { for (const i of inputs) i.checked = i._value === v; } };
}

// --- the shell shared by all explorers ----------------------------------------------------------

function shell(el, kind, title, model) {
  el.classList.add("aevae-x");
  el.setAttribute("role", "group");
  el.setAttribute("aria-label", title);
  el.dataset.aevaeExplorer = kind;
  el.dataset.modelBytes = String(model.get("spec").model_bytes || 0);
  const api = { kind, model, probes: model.get("probes"), compute: [], latency: [], frames: [], state: () => ({}) };
  el.__aevae = api;
  let pendingSave = false;
  const save = (changes) => { // state -> the model (and the kernel, when there is one)
    api.syncing = true;
    try { for (const [k, v] of Object.entries(changes)) model.set(k, v); } finally { api.syncing = false; }
    if (!pendingSave) {
      pendingSave = true;
      requestAnimationFrame(() => {
        pendingSave = false;
        try { model.save_changes(); } catch (err) { /* a static page has no kernel */ }
      });
    }
  };
  // run draw() for an input event and record how long the page took to show its result
  const record = (list, value) => { list.push(value); if (list.length > 5000) list.shift(); };
  const timed = (ev, draw) => {
    const start = performance.now();
    const t0 = ev && ev.isTrusted && ev.timeStamp > 0 ? Math.min(ev.timeStamp, start) : start;
    draw();
    el.dataset.state = JSON.stringify(api.state());
    const done = performance.now();
    record(api.compute, done - start); // the page's own work: decode and draw
    record(api.latency, done - t0); // from the input event to the drawn image
    requestAnimationFrame(() => record(api.frames, performance.now() - t0)); // to the next frame
  };
  return { api, save, timed };
}

// --- latent_explorer --------------------------------------------------------------------------

function latent({ model, el, bytes, spec }) {
  const R = spec.range, zoom = spec.zoom;
  const net = buildNet(bytes, spec.decoder);
  const { api, save, timed } = shell(el, "latent", "Latent space explorer: move the code z and see the decoder's image", model);
  let z = model.get("z").map(Number);
  const out = new Float32Array(784), zin = new Float64Array(2);
  api.state = () => ({ z: z.slice() });

  // the plane: codes of test digits, a point at z
  const SIZE = 300, dpr = window.devicePixelRatio || 1;
  const plane = h("canvas", { class: "aevae-x-plane", tabindex: 0, role: "application",
    "data-control": "plane", "aria-roledescription": "latent plane",
    "aria-label": "Latent plane: click or drag to choose a code; arrow keys move it, " +
      "the sliders below show its coordinates" });
  plane.width = plane.height = Math.round(SIZE * dpr);
  plane.style.width = plane.style.height = `${SIZE}px`;
  const toPx = (v, flip) => ((flip ? R - v : v + R) / (2 * R)) * SIZE;
  const back = document.createElement("canvas");
  back.width = back.height = plane.width;
  {
    const g = back.getContext("2d");
    g.scale(dpr, dpr);
    g.fillStyle = "#fff";
    g.fillRect(0, 0, SIZE, SIZE);
    g.strokeStyle = "rgba(0,0,0,0.12)";
    g.fillStyle = "rgba(0,0,0,0.55)";
    g.font = "10px sans-serif";
    for (let v = Math.ceil(-R); v <= Math.floor(R); v++) {
      g.lineWidth = v === 0 ? 1.2 : 0.6;
      g.beginPath(); g.moveTo(toPx(v), 0); g.lineTo(toPx(v), SIZE); g.stroke();
      g.beginPath(); g.moveTo(0, toPx(v, true)); g.lineTo(SIZE, toPx(v, true)); g.stroke();
      if (v !== 0) { g.fillText(String(v), toPx(v) + 2, SIZE - 3); g.fillText(String(v), 2, toPx(v, true) - 2); }
    }
    g.fillText("z\u2081 \u2192", SIZE - 30, toPx(0, true) - 4);
    g.fillText("z\u2082 \u2191", toPx(0) + 4, 11);
    if (spec.codes) {
      const codes = read(bytes, spec.codes), labels = spec.labels ? read(bytes, spec.labels) : null;
      g.globalAlpha = 0.6;
      for (let i = 0; i < codes.length / 2; i++) {
        g.fillStyle = labels ? TAB10[labels[i] % 10] : "#1f77b4";
        g.beginPath();
        g.arc(toPx(codes[2 * i]), toPx(codes[2 * i + 1], true), 1.7, 0, 2 * Math.PI);
        g.fill();
      }
      g.globalAlpha = 1;
    }
  }
  const decoded = stripCanvas("decoded", 1, zoom);
  const caption = h("p", { class: "aevae-x-caption" });
  const sliders = ["z1", "z2"].map((name, k) => slider({
    name, label: k ? "z\u2082" : "z\u2081", min: -R, max: R, step: spec.step, value: z[k],
    onChange: (v, ev) => { z[k] = v; timed(ev, draw); save({ z: z.slice() }); },
  }));
  const legend = spec.labels ? h("div", { class: "aevae-x-legend", "aria-label": "colours: the digit of each test code" },
    ...TAB10.map((c, d) => h("span", {}, h("i", { style: `background:${c}` }), String(d)))) : null;

  function drawPlane() {
    const g = plane.getContext("2d");
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(back, 0, 0);
    g.scale(dpr, dpr);
    const x = toPx(z[0]), y = toPx(z[1], true);
    g.lineWidth = 3; g.strokeStyle = "#fff";
    g.beginPath(); g.arc(x, y, 7, 0, 2 * Math.PI); g.stroke();
    g.lineWidth = 1.6; g.strokeStyle = "#000";
    g.beginPath(); g.arc(x, y, 7, 0, 2 * Math.PI); g.stroke();
    g.beginPath(); g.moveTo(x - 11, y); g.lineTo(x - 4, y); g.moveTo(x + 4, y); g.lineTo(x + 11, y);
    g.moveTo(x, y - 11); g.lineTo(x, y - 4); g.moveTo(x, y + 4); g.lineTo(x, y + 11); g.stroke();
  }
  function draw() {
    zin[0] = z[0]; zin[1] = z[1];
    runNet(net, zin, out);
    const text = `decoded digit at z = (${fmt(z[0])}, ${fmt(z[1])})`;
    drawStrip(decoded, out, 1, text);
    caption.textContent = `decoder output at z = (${fmt(z[0])}, ${fmt(z[1])})`;
    drawPlane();
  }
  function setZ(nz, ev) {
    if (nz[0] === z[0] && nz[1] === z[1]) return;
    z = nz;
    sliders.forEach((s, k) => s.set(z[k]));
    timed(ev, draw);
    save({ z: z.slice() });
  }
  let dragging = false;
  const fromPointer = (ev) => {
    const r = plane.getBoundingClientRect();
    const fx = (ev.clientX - r.left) / r.width, fy = (ev.clientY - r.top) / r.height;
    setZ([clamp(snap(-R + fx * 2 * R), -R, R), clamp(snap(R - fy * 2 * R), -R, R)], ev);
  };
  plane.addEventListener("pointerdown", (ev) => {
    dragging = true;
    try { plane.setPointerCapture(ev.pointerId); } catch (err) { /* synthetic pointer */ }
    plane.focus({ preventScroll: true });
    ev.preventDefault();
    fromPointer(ev);
  });
  plane.addEventListener("pointermove", (ev) => { if (dragging) fromPointer(ev); });
  for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
    plane.addEventListener(type, () => { dragging = false; });
  }
  plane.addEventListener("keydown", (ev) => {
    const d = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[ev.key];
    if (!d) return;
    ev.preventDefault();
    const s = spec.step * (ev.shiftKey ? 10 : 1);
    setZ([clamp(snap(z[0] + d[0] * s), -R, R), clamp(snap(z[1] + d[1] * s), -R, R)], ev);
  });
  const onModel = () => {
    if (api.syncing) return;
    const nz = model.get("z").map(Number);
    if (nz[0] !== z[0] || nz[1] !== z[1]) { z = nz; sliders.forEach((s, k) => s.set(z[k])); timed(null, draw); }
  };
  model.on("change:z", onModel);

  add(el,
    h("div", { class: "aevae-x-row" },
      h("figure", { class: "aevae-x-figure" }, plane, legend,
        h("figcaption", { text: spec.codes ? "posterior means of test digits, coloured by digit; click or drag" : "click or drag to move z" })),
      h("div", {}, figure(decoded, "decoder output"), caption)),
    h("div", { class: "aevae-x-controls" }, ...sliders.map((s) => s.el)));
  timed(null, draw);
  return () => model.off("change:z", onModel);
}

// --- interpolation_explorer -------------------------------------------------------------------

function interpolate(za, zb, t, path, out) {
  const d = za.length;
  if (path === "spherical") {
    const na = norm(Array.from(za)), nb = norm(Array.from(zb));
    let dot = 0;
    for (let i = 0; i < d; i++) dot += za[i] * zb[i];
    const cos = na > 0 && nb > 0 ? clamp(dot / (na * nb), -1, 1) : 1;
    const om = Math.acos(cos), so = Math.sin(om);
    if (so >= 1e-6) {
      const wa = Math.sin((1 - t) * om) / so, wb = Math.sin(t * om) / so;
      for (let i = 0; i < d; i++) out[i] = wa * za[i] + wb * zb[i];
      return out;
    }
  }
  for (let i = 0; i < d; i++) out[i] = (1 - t) * za[i] + t * zb[i];
  return out;
}

function interpolation({ model, el, bytes, spec }) {
  const { api, save, timed } = shell(el, "interpolation", "Interpolation explorer: choose two test images and walk between their codes", model);
  const gallery = spec.gallery, G = gallery.length, zoom = spec.zoom, steps = spec.steps;
  const images = read(bytes, spec.images);
  const models = spec.models.map((m) => ({ label: m.label, dim: m.dim, net: buildNet(bytes, m.decoder),
    codes: read(bytes, m.codes) }));
  let st = { a: model.get("a"), b: model.get("b"), t: model.get("t"), path: model.get("path") };
  api.state = () => ({ ...st });
  const thumb = (idx) => {
    const c = stripCanvas(`thumb-${idx}`, 1, 1);
    drawStrip(c, images.subarray(gallery.indexOf(idx) * 784, gallery.indexOf(idx) * 784 + 784), 1, `test image ${idx}`, 255);
    c.removeAttribute("role");
    c.setAttribute("aria-hidden", "true");
    return c;
  };
  const pick = (which) => radios({
    name: which, legend: `Image ${which.toUpperCase()}`, value: st[which], cls: "aevae-x-gallery",
    options: gallery.map((idx) => ({ value: idx, label: thumb(idx), control: `${which}-${idx}`,
      ariaLabel: `test image ${idx}`, title: `test image ${idx}` })),
    onChange: (v, ev) => {
      if (v === st[which === "a" ? "b" : "a"]) { pickers[which].set(st[which]); return; } // A != B
      st[which] = v; timed(ev, draw); save({ [which]: v });
    },
  });
  const pickers = { a: pick("a"), b: pick("b") };
  const pathPick = radios({ name: "path", legend: "Path", value: st.path,
    options: [{ value: "linear", label: "straight line", control: "path-linear" },
      { value: "spherical", label: "spherical (arc)", control: "path-spherical" }],
    onChange: (v, ev) => { st.path = v; timed(ev, draw); save({ path: v }); } });
  const tSlider = slider({ name: "t", label: "t", min: 0, max: 1, step: 0.05, value: st.t,
    onChange: (v, ev) => { st.t = v; timed(ev, draw); save({ t: v }); } });
  const ends = stripCanvas("ends", 2, zoom);
  const blocks = models.map((m, k) => {
    const now = stripCanvas(`now-${k}`, 1, zoom + 1);
    const path = stripCanvas(`path-${k}`, steps, Math.max(2, zoom - 1));
    const info = h("p", { class: "aevae-x-caption" });
    const block = h("div", { class: "aevae-x-model" }, h("h4", { text: m.label }),
      h("div", { class: "aevae-x-row" }, figure(now, "z(t)"), figure(path, "t = 0 \u2192 1")), info);
    return { m, now, path, info, block, za: new Float64Array(m.dim), zb: new Float64Array(m.dim),
      z: new Float64Array(m.dim), out: new Float32Array(784), pathOut: new Float32Array(steps * 784), key: "" };
  });
  const caption = h("p", { class: "aevae-x-caption" });

  function draw() {
    const ia = gallery.indexOf(st.a), ib = gallery.indexOf(st.b);
    const both = new Float32Array(2 * 784);
    both.set(images.subarray(ia * 784, ia * 784 + 784), 0);
    both.set(images.subarray(ib * 784, ib * 784 + 784), 784);
    drawStrip(ends, both, 2, `test image A (${st.a}) and test image B (${st.b})`, 255);
    const kind = st.path === "spherical" ? "arc" : "straight line";
    for (const B of blocks) {
      const { m } = B, d = m.dim;
      for (let i = 0; i < d; i++) { B.za[i] = m.codes[ia * d + i]; B.zb[i] = m.codes[ib * d + i]; }
      interpolate(B.za, B.zb, st.t, st.path, B.z);
      runNet(m.net, B.z, B.out);
      drawStrip(B.now, B.out, 1, `${m.label}: decoded z(t) at t = ${fmt(st.t)} on the ${kind} from test image ${st.a} to test image ${st.b}`);
      const key = `${st.a}/${st.b}/${st.path}`;
      if (B.key !== key) { // the whole path changes only with A, B or the kind of path
        const zs = new Float64Array(d);
        for (let s = 0; s < steps; s++) {
          interpolate(B.za, B.zb, s / (steps - 1), st.path, zs);
          runNet(m.net, zs, B.pathOut, s * 784);
        }
        drawStrip(B.path, B.pathOut, steps, `${m.label}: ${steps} decoded codes along the ${kind}, t = 0 to 1`);
        B.key = key;
      }
      B.info.textContent = `\u2016z(t)\u2016 = ${fmt(norm(Array.from(B.z)))}  (\u2016z_A\u2016 = ${fmt(norm(Array.from(B.za)))}, \u2016z_B\u2016 = ${fmt(norm(Array.from(B.zb)))}; d = ${d})`;
    }
    caption.textContent = `test images ${st.a} and ${st.b}; t = ${fmt(st.t)} on the ${st.path === "spherical" ? "spherical path" : "straight line"}`;
  }
  const onModel = () => {
    if (api.syncing) return;
    st = { a: model.get("a"), b: model.get("b"), t: model.get("t"), path: model.get("path") };
    pickers.a.set(st.a); pickers.b.set(st.b); pathPick.set(st.path); tSlider.set(st.t);
    timed(null, draw);
  };
  for (const k of ["a", "b", "t", "path"]) model.on(`change:${k}`, onModel);
  add(el,
    h("div", { class: "aevae-x-row" }, pickers.a.el, pickers.b.el),
    h("div", { class: "aevae-x-controls" }, pathPick.el, tSlider.el),
    figure(ends, "A and B"),
    h("div", { class: "aevae-x-row aevae-x-models" }, ...blocks.map((B) => B.block)),
    caption);
  timed(null, draw);
  return () => { for (const k of ["a", "b", "t", "path"]) model.off(`change:${k}`, onModel); };
}

// --- beta_explorer ----------------------------------------------------------------------------

function beta({ model, el, bytes, spec }) {
  const { api, save, timed } = shell(el, "beta", "Beta explorer: samples and reconstructions of the VAE trained with each beta", model);
  const n = spec.n, d = spec.dim, zoom = spec.zoom;
  const test = read(bytes, spec.images);
  const models = spec.models.map((m) => ({ ...m, mu: read(bytes, m.mu),
    net: spec.shipped ? buildNet(bytes, m.decoder) : null,
    samplesU8: spec.shipped ? null : read(bytes, m.samples), reconU8: spec.shipped ? null : read(bytes, m.recon) }));
  let st = { beta: model.get("beta"), sample_seed: model.get("sample_seed") };
  api.state = () => ({ ...st });
  const betaPick = radios({ name: "beta", legend: "\u03b2 (weight of the KL term)", value: st.beta, cls: "aevae-x-segmented",
    options: models.map((m, k) => ({ value: m.beta, label: m.label, control: `beta-${k}`, ariaLabel: `beta = ${m.label}` })),
    onChange: (v, ev) => { st.beta = v; timed(ev, draw); save({ beta: v }); } });
  const resample = spec.shipped ? h("button", { type: "button", class: "aevae-x-button", "data-control": "resample",
    text: "new samples" }) : null;
  if (resample) {
    resample.addEventListener("click", (ev) => {
      st.sample_seed += 1; timed(ev, draw); save({ sample_seed: st.sample_seed });
    });
  }
  const cS = stripCanvas("samples", n, zoom), cT = stripCanvas("test", n, zoom), cR = stripCanvas("recon", n, zoom);
  const caption = h("p", { class: "aevae-x-caption" });
  const out = new Float32Array(n * 784), rec = new Float32Array(n * 784), zrow = new Float64Array(d);
  let draws = { seed: null, z: null };
  drawStrip(cT, test, n, `${n} test images`, 255);

  function draw() {
    const m = models.find((q) => q.beta === st.beta);
    if (spec.shipped) {
      if (draws.seed !== st.sample_seed) draws = { seed: st.sample_seed, z: priorDraws(st.sample_seed, n, d) };
      for (let k = 0; k < n; k++) {
        for (let i = 0; i < d; i++) zrow[i] = draws.z[k * d + i];
        runNet(m.net, zrow, out, k * 784);
        for (let i = 0; i < d; i++) zrow[i] = m.mu[k * d + i];
        runNet(m.net, zrow, rec, k * 784);
      }
      drawStrip(cS, out, n);
      drawStrip(cR, rec, n);
    } else {
      drawStrip(cS, m.samplesU8, n, undefined, 255);
      drawStrip(cR, m.reconU8, n, undefined, 255);
    }
    cS.setAttribute("aria-label", `beta = ${m.label}: ${n} images decoded from prior draws z ~ N(0, I), draw ${st.sample_seed}`);
    cR.setAttribute("aria-label", `beta = ${m.label}: reconstructions of the ${n} test images at z = mu`);
    caption.textContent = `\u03b2 = ${m.label}: rate (KL) ${m.kl.toFixed(1)} nats, distortion ${m.nll.toFixed(1)} nats (mean over these ${n} test images)`;
  }
  const onModel = () => {
    if (api.syncing) return;
    st = { beta: model.get("beta"), sample_seed: model.get("sample_seed") };
    betaPick.set(st.beta);
    timed(null, draw);
  };
  model.on("change:beta", onModel);
  model.on("change:sample_seed", onModel);
  add(el,
    h("div", { class: "aevae-x-controls" }, betaPick.el, resample),
    figure(cS, spec.shipped ? "samples: the decoder of this \u03b2 at z ~ N(0, I) (the same z for every \u03b2)" : "samples (precomputed)"),
    figure(cT, "test images"),
    figure(cR, "reconstructions at z = \u03bc"),
    caption,
    spec.shipped ? null : h("p", { class: "aevae-x-note", text: "The decoders are not in this page (precomputed images)." }));
  timed(null, draw);
  return () => { model.off("change:beta", onModel); model.off("change:sample_seed", onModel); };
}

// --- denoising_explorer -----------------------------------------------------------------------

function denoising({ model, el, bytes, spec }) {
  const { api, save, timed } = shell(el, "denoising", "Denoising explorer: corrupt test images and see the denoising autoencoder's reconstructions", model);
  const n = spec.n, zoom = spec.zoom;
  const u8 = read(bytes, spec.images), eps = read(bytes, spec.eps), uni = read(bytes, spec.uniform);
  const net = buildNet(bytes, spec.net);
  const x = new Float64Array(n * 784);
  for (let i = 0; i < n * 784; i++) x[i] = u8[i] / 255;
  let st = { noise: model.get("noise"), noise_type: model.get("noise_type") };
  api.state = () => ({ ...st });
  const NAMES = { gaussian: "Gaussian noise", mask: "masking" };
  const maxOf = (type) => (type === "mask" ? 1 : spec.max);
  const levelText = (v) => fmt(v);
  const level = slider({ name: "noise", label: "level", min: 0, max: maxOf(st.noise_type), step: 0.05,
    value: st.noise, text: levelText,
    onChange: (v, ev) => { st.noise = v; timed(ev, draw); save({ noise: v }); } });
  const typePick = radios({ name: "type", legend: "Corruption", value: st.noise_type,
    options: [{ value: "gaussian", label: "Gaussian noise (sd \u03bd)", control: "type-gaussian" },
      { value: "mask", label: "masking (fraction of pixels set to 0)", control: "type-mask" }],
    onChange: (v, ev) => {
      st.noise_type = v;
      level.setRange(0, maxOf(v));
      st.noise = clamp(st.noise, 0, maxOf(v));
      level.set(st.noise);
      timed(ev, draw);
      save({ noise_type: v, noise: st.noise });
    } });
  const cC = stripCanvas("clean", n, zoom), cN = stripCanvas("noisy", n, zoom), cR = stripCanvas("recon", n, zoom);
  drawStrip(cC, u8, n, `${n} clean test images`, 255);
  const caption = h("p", { class: "aevae-x-caption" });
  const noisy = new Float64Array(n * 784), rec = new Float32Array(n * 784);
  const row = new Float64Array(784);

  function draw() {
    const v = st.noise, mask = st.noise_type === "mask";
    for (let i = 0; i < n * 784; i++) noisy[i] = mask ? (uni[i] >= v ? x[i] : 0) : clamp(x[i] + v * eps[i], 0, 1);
    let eN = 0, eR = 0;
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < 784; i++) row[i] = noisy[k * 784 + i];
      runNet(net, row, rec, k * 784);
    }
    for (let i = 0; i < n * 784; i++) { eN += (noisy[i] - x[i]) ** 2; eR += (rec[i] - x[i]) ** 2; }
    const what = mask ? `${fmt(v)} of pixels masked` : `noise sd ${fmt(v)}`;
    drawStrip(cN, noisy, n, `the ${n} images with ${NAMES[st.noise_type]}, ${what}`);
    drawStrip(cR, rec, n, `the denoising autoencoder's reconstructions (${NAMES[st.noise_type]}, ${what})`);
    caption.textContent = `the ${n} images with ${NAMES[st.noise_type]}, ${what}: squared error of the corrupted input ${(eN / n).toFixed(1)}, of the reconstruction ${(eR / n).toFixed(1)}`;
  }
  const onModel = () => {
    if (api.syncing) return;
    st = { noise: model.get("noise"), noise_type: model.get("noise_type") };
    typePick.set(st.noise_type); level.setRange(0, maxOf(st.noise_type)); level.set(st.noise);
    timed(null, draw);
  };
  model.on("change:noise", onModel);
  model.on("change:noise_type", onModel);
  add(el,
    h("div", { class: "aevae-x-controls" }, typePick.el, level.el),
    figure(cC, "clean test images"), figure(cN, "corrupted input"),
    figure(cR, "reconstruction by the denoising autoencoder (encoder and decoder run in this page)"),
    caption);
  timed(null, draw);
  return () => { model.off("change:noise", onModel); model.off("change:noise_type", onModel); };
}

// --- entry point ------------------------------------------------------------------------------

const KINDS = { latent, interpolation, beta, denoising };

function render({ model, el }) {
  const kind = model.get("kind");
  const make = KINDS[kind];
  if (!make) throw new Error(`aevae explorer: unknown kind ${kind}`);
  return make({ model, el, bytes: bytesOf(model.get("blob")), spec: model.get("spec") });
}

export default { render };
