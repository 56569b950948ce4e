// Stratus canvas page: draw with Pointer Events, get live predictions over a
// WebSocket (falling back to POST /api/v1/predict), show the answer with a
// probability chart, keep a history, and store corrections.
// Everything the server or the user gives is shown with textContent: no
// HTML is ever built from data.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const boxesEl = $("boxes");
  const statusEl = $("status");
  const answerEl = $("answer");
  const confEl = $("confidence");
  const chartEl = $("chart");
  const noteEl = $("candidate-note");
  const correctEl = $("correct");
  const labelInput = $("label-input");
  const historyEl = $("history");
  const connEl = $("conn");
  const modeNumber = $("mode-number");

  const LIVE_DEBOUNCE_MS = 180;  // pause in drawing before a live prediction
  const SLOW_MS = 1500;          // when to say the backend is slow
  const MAX_POINTS = 2000;       // per stroke (docs/contracts.md, Limits)
  const MAX_STROKES = 200;
  const MAX_HISTORY = 12;

  const session = (() => {
    try {
      let s = sessionStorage.getItem("stratus-session");
      if (!s) { s = newSessionID(); sessionStorage.setItem("stratus-session", s); }
      return s;
    } catch (e) { return newSessionID(); }
  })();

  function newSessionID() {
    if (window.crypto && crypto.randomUUID) return "web-" + crypto.randomUUID();
    return "web-" + Math.random().toString(36).slice(2) + Date.now().toString(36);
  }

  // ---- drawing state ----
  let strokes = [];          // [[{x,y,t}]]
  let current = null;        // the stroke being drawn
  let startedAt = 0;
  let picture = null;        // {png: base64, w, h} for an uploaded picture
  let drawingID = "";        // the server's id for this drawing (after the first answer)
  let version = 0;           // bumps on every change of the drawing
  let lastFinal = null;      // {id, said, entry} of the last Predict
  let selected = 0;          // candidate shown in the chart

  function cssSize() {
    const r = canvas.getBoundingClientRect();
    return { w: Math.max(1, Math.round(r.width)), h: Math.max(1, Math.round(r.height)) };
  }

  function fitCanvas() {
    const { w, h } = cssSize();
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    redraw();
  }

  function penWidth() { return Math.max(6, cssSize().w / 22); }

  function redraw() {
    const { w, h } = cssSize();
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, w, h);
    if (picture && picture.img) {
      const s = Math.min(w / picture.w, h / picture.h);
      ctx.drawImage(picture.img, 0, 0, picture.w * s, picture.h * s);
      return;
    }
    ctx.strokeStyle = "#111";
    ctx.fillStyle = "#111";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = penWidth();
    for (const s of strokes) drawStroke(s);
  }

  // drawStroke draws a smooth curve: quadratic segments through the
  // midpoints of the samples.
  function drawStroke(s) {
    if (s.length === 0) return;
    if (s.length === 1) {
      ctx.beginPath();
      ctx.arc(s[0].x, s[0].y, ctx.lineWidth / 2, 0, Math.PI * 2);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(s[0].x, s[0].y);
    for (let i = 1; i < s.length - 1; i++) {
      const mx = (s[i].x + s[i + 1].x) / 2, my = (s[i].y + s[i + 1].y) / 2;
      ctx.quadraticCurveTo(s[i].x, s[i].y, mx, my);
    }
    const last = s[s.length - 1];
    ctx.lineTo(last.x, last.y);
    ctx.stroke();
  }

  function point(e) {
    const r = canvas.getBoundingClientRect();
    return {
      x: Math.round((e.clientX - r.left) * 10) / 10,
      y: Math.round((e.clientY - r.top) * 10) / 10,
      t: Math.round(performance.now() - startedAt),
    };
  }

  function addPoint(p) {
    const last = current[current.length - 1];
    if (last && Math.abs(last.x - p.x) < 0.5 && Math.abs(last.y - p.y) < 0.5) return;
    if (current.length >= MAX_POINTS) return;
    current.push(p);
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== undefined && e.button > 0) return;
    e.preventDefault();
    if (picture) { picture = null; drawingID = ""; redraw(); }
    if (strokes.length >= MAX_STROKES) { say("That is the most strokes one drawing may have (200). Clear to start again.", true); return; }
    canvas.setPointerCapture(e.pointerId);
    canvas.focus({ preventScroll: true });
    if (strokes.length === 0) startedAt = performance.now();
    current = [];
    strokes.push(current);
    addPoint(point(e));
    changed();
  });

  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    e.preventDefault();
    const evs = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ce of (evs.length ? evs : [e])) addPoint(point(ce));
    changed();
  });

  function endStroke(e) {
    if (!current) return;
    if (e && e.type === "pointerup") addPoint(point(e));
    current = null;
    changed();
  }
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  canvas.addEventListener("lostpointercapture", endStroke);

  function changed() {
    version++;
    redraw();
    scheduleLive();
  }

  function hasDrawing() { return picture !== null || strokes.some((s) => s.length > 0); }

  function clearAll() {
    strokes = []; current = null; picture = null; drawingID = ""; version++;
    liveWanted = false; clearTimeout(liveTimer);
    lastFinal = null;
    redraw();
    showResult(null);
    correctEl.hidden = true;
    $("upload").value = "";
    say("Draw a digit above.");
  }

  // ---- events to the server ----
  function eventBody() {
    const { w, h } = cssSize();
    const ev = { v: 1, session: session, mode: modeNumber.checked ? "number" : "digit" };
    if (drawingID) ev.id = drawingID; // revises the same drawing (WebSocket only)
    if (picture) {
      ev.width = picture.w; ev.height = picture.h; ev.image_png = picture.png;
    } else {
      ev.width = w; ev.height = h;
      ev.strokes = strokes.filter((s) => s.length > 0);
    }
    return ev;
  }

  // ---- WebSocket with reconnect, and the POST fallback ----
  let ws = null;
  let wsOpen = false;
  let wsBackoff = 500;
  let seq = 0;
  const pending = new Map(); // seq → {resolve, reject, timer}

  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/ws";
    setConn("connecting", "connecting…");
    try { ws = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    ws.addEventListener("open", () => {
      wsOpen = true; wsBackoff = 500; seq = 0;
      setConn("ok", "connected");
    });
    ws.addEventListener("message", (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch (e) { return; }
      const p = pending.get(msg.seq);
      if (!p) return;
      if (msg.type === "accepted") { p.accepted(msg.id); return; }
      pending.delete(msg.seq);
      clearTimeout(p.timer);
      if (msg.type === "prediction") p.resolve(msg);
      else p.reject({ status: msg.status || 500, error: msg.error || "error", id: msg.id });
    });
    ws.addEventListener("close", () => {
      wsOpen = false;
      for (const [, p] of pending) { clearTimeout(p.timer); p.reject({ status: 0, error: "the connection to the server was lost" }); }
      pending.clear();
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    setConn("down", "offline — reconnecting…");
    setTimeout(connect, wsBackoff);
    wsBackoff = Math.min(wsBackoff * 2, 10000);
  }

  function setConn(kind, text) {
    connEl.className = "conn conn-" + kind;
    connEl.textContent = text;
  }

  // request sends one event; it resolves with the prediction or rejects
  // with {status, error}.
  function request(ev, onAccepted) {
    if (wsOpen && ws.readyState === WebSocket.OPEN) {
      return new Promise((resolve, reject) => {
        const s = ++seq;
        const p = { resolve, reject, accepted: onAccepted || (() => {}) };
        p.timer = setTimeout(() => { pending.delete(s); reject({ status: 504, error: "no answer in 15 s" }); }, 15000);
        pending.set(s, p);
        ws.send(JSON.stringify(ev));
      });
    }
    // POST: the server assigns a fresh id every time.
    delete ev.id;
    return fetch("/api/v1/predict", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(ev),
    }).then((r) => r.json().then((body) => {
      if (!r.ok) throw { status: r.status, error: body.error || r.statusText };
      if (onAccepted) onAccepted(body.id);
      return body;
    }), (err) => { throw { status: 0, error: "the server cannot be reached (" + err.message + ")" }; });
  }

  // ---- live predictions while drawing ----
  let liveTimer = 0;
  let liveBusy = false;
  let liveWanted = false;

  function scheduleLive() {
    clearTimeout(liveTimer);
    if (!hasDrawing()) return;
    liveTimer = setTimeout(() => { liveWanted = true; pumpLive(); }, LIVE_DEBOUNCE_MS);
  }

  function pumpLive() {
    if (liveBusy || !liveWanted || !hasDrawing() || !wsOpen) return;
    liveWanted = false;
    liveBusy = true;
    const v = version;
    const ev = eventBody();
    request(ev, (id) => { if (id && v <= version && !drawingID) drawingID = id; })
      .then((p) => { if (v === version) showResult(p, true); })
      .catch((e) => { if (e.status && e.status !== 400) say(errorText(e), true); })
      .finally(() => { liveBusy = false; pumpLive(); });
  }

  // ---- Predict ----
  let finalBusy = false;
  async function predict() {
    if (!hasDrawing()) { say("Draw something first.", true); return; }
    if (finalBusy) return;
    finalBusy = true;
    clearTimeout(liveTimer); liveWanted = false;
    // Wait for a live request in flight, so that the drawing keeps one id.
    while (liveBusy) await new Promise((r) => setTimeout(r, 10));
    const v = version;
    const ev = eventBody();
    const thumb = thumbnail();
    say("Recognising…");
    const sentAt = performance.now();
    const slow = setTimeout(() => say("The backend is slow; still waiting…", true), SLOW_MS);
    try {
      const p = await request(ev, (id) => { if (id && v === version) drawingID = id; });
      if (v === version) {
        showResult(p, false);
        const ms = Math.round(performance.now() - sentAt);
        say(p.digits === "" ? "Nothing recognised." : "Done in " + ms + " ms. Wrong? Correct it below.");
        const entry = addHistory(p, thumb);
        lastFinal = { id: p.id, said: p.digits, entry: entry };
        correctEl.hidden = false;
        labelInput.value = "";
      }
    } catch (e) {
      say(errorText(e), true);
    } finally {
      clearTimeout(slow);
      finalBusy = false;
    }
  }

  function errorText(e) {
    switch (e.status) {
      case 0: return "Cannot reach the server: " + e.error + ". Retrying…";
      case 400: case 413: case 422: return "That drawing cannot be read: " + e.error;
      case 429: return "Slow down a little: " + e.error;
      case 503: return "The backend is unavailable right now: " + e.error;
      case 504: return "No answer in time: the recognition pipeline is slow or down. Try again.";
      default: return "Something went wrong (" + e.status + "): " + e.error;
    }
  }

  // ---- showing answers ----
  function showResult(p, live) {
    boxesEl.textContent = "";
    chartEl.textContent = "";
    noteEl.hidden = true;
    if (!p) { answerEl.textContent = "?"; confEl.textContent = ""; return; }
    answerEl.textContent = p.digits === "" ? "–" : p.digits;
    confEl.textContent = (live ? "live · " : "") + Math.round((p.confidence || 0) * 1000) / 10 + "% sure";
    const cands = p.candidates || [];
    selected = Math.min(selected, Math.max(cands.length - 1, 0));
    if (cands.length > 1) drawBoxes(p);
    showChart(cands[selected], cands.length > 1 ? selected : -1);
  }

  function showChart(c, index) {
    chartEl.textContent = "";
    if (!c || !c.probabilities) return;
    if (index >= 0) {
      noteEl.hidden = false;
      noteEl.textContent = "Digit " + (index + 1) + ": tap or hover another box to see its chart.";
    }
    const probs = c.probabilities;
    let best = 0;
    for (let d = 1; d < probs.length; d++) if (probs[d] > probs[best]) best = d;
    for (let d = 0; d < probs.length; d++) {
      const li = document.createElement("li");
      li.dataset.digit = String(d);
      if (d === best) li.className = "best";
      const k = document.createElement("span"); k.textContent = String(d);
      const bar = document.createElement("span"); bar.className = "bar";
      const fill = document.createElement("span"); fill.className = "fill";
      fill.style.width = (probs[d] * 100).toFixed(1) + "%";
      bar.appendChild(fill);
      const pct = document.createElement("span"); pct.className = "pct";
      pct.textContent = (probs[d] * 100).toFixed(1) + "%";
      li.setAttribute("aria-label", d + ": " + (probs[d] * 100).toFixed(1) + " percent");
      li.append(k, bar, pct);
      chartEl.appendChild(li);
    }
  }

  // drawBoxes puts a box over each recognised digit (number mode). Boxes
  // come in the drawing's coordinates: CSS pixels for strokes, picture
  // pixels for an upload.
  function drawBoxes(p) {
    const { w } = cssSize();
    const scale = picture ? Math.min(w / picture.w, cssSize().h / picture.h) : 1;
    const pad = picture ? 1 : penWidth() / 2; // stroke boxes hold the pen's centre line
    p.candidates.forEach((c, i) => {
      if (!c.box) return;
      const b = document.createElement("button");
      b.type = "button";
      b.className = "box" + (i === selected ? " selected" : "");
      b.style.left = (c.box.x * scale - pad) + "px";
      b.style.top = (c.box.y * scale - pad) + "px";
      b.style.width = Math.max(c.box.w * scale + 2 * pad, 6) + "px";
      b.style.height = Math.max(c.box.h * scale + 2 * pad, 6) + "px";
      b.setAttribute("aria-label", "digit " + (i + 1) + ": " + c.digit);
      const tag = document.createElement("span");
      tag.textContent = String(c.digit);
      b.appendChild(tag);
      const pick = () => {
        selected = i;
        for (const el of boxesEl.children) el.classList.remove("selected");
        b.classList.add("selected");
        showChart(c, i);
      };
      b.addEventListener("mouseenter", pick);
      b.addEventListener("focus", pick);
      b.addEventListener("click", pick);
      boxesEl.appendChild(b);
    });
  }

  function thumbnail() {
    try { return canvas.toDataURL("image/png"); } catch (e) { return ""; }
  }

  function addHistory(p, thumb) {
    const li = document.createElement("li");
    li.dataset.id = p.id;
    if (thumb) {
      const img = document.createElement("img");
      img.src = thumb; img.alt = "drawing recognised as " + p.digits;
      li.appendChild(img);
    }
    const said = document.createElement("div");
    said.className = "said";
    said.textContent = p.digits === "" ? "–" : p.digits;
    const conf = document.createElement("div");
    conf.textContent = Math.round((p.confidence || 0) * 100) + "%";
    const fixed = document.createElement("div");
    fixed.className = "fixed";
    li.append(said, conf, fixed);
    historyEl.prepend(li);
    while (historyEl.children.length > MAX_HISTORY) historyEl.lastChild.remove();
    return li;
  }

  // ---- corrections ----
  correctEl.addEventListener("submit", async (e) => {
    e.preventDefault();
    const label = labelInput.value.trim();
    if (!/^[0-9]{1,32}$/.test(label)) { say("A correction is the digits it should have been, like 7 or 42.", true); return; }
    if (!lastFinal) return;
    const target = lastFinal;
    say("Saving the correction…");
    try {
      const r = await fetch("/api/v1/samples/" + encodeURIComponent(target.id) + "/label", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ label: label }),
      });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw { status: r.status, error: body.error || r.statusText };
      target.entry.querySelector(".fixed").textContent = "→ " + label;
      say("Saved: this drawing is now a labelled " + label + ". Thank you!");
      correctEl.hidden = true;
      canvas.focus(); // Enter and Escape work on the drawing again
    } catch (err) {
      say("The correction was not saved: " + (err.error || err.message || err), true);
    }
  });

  // ---- uploads ----
  $("upload").addEventListener("change", () => {
    const f = $("upload").files[0];
    if (!f) return;
    if (f.size > 2 * 1024 * 1024) { say("That picture is over 2 MiB.", true); return; }
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      const img = new Image();
      img.onload = () => {
        strokes = []; drawingID = "";
        picture = { png: url.slice(url.indexOf(",") + 1), w: img.naturalWidth, h: img.naturalHeight, img: img };
        version++;
        redraw();
        predict();
      };
      img.onerror = () => say("That file is not a picture this browser can read.", true);
      img.src = url;
    };
    reader.readAsDataURL(f);
  });

  // ---- buttons and keys ----
  $("predict").addEventListener("click", predict);
  $("clear").addEventListener("click", clearAll);
  modeNumber.addEventListener("change", () => { selected = 0; if (hasDrawing()) scheduleLive(); });
  document.addEventListener("keydown", (e) => {
    if (e.target === labelInput) {
      if (e.key === "Escape") { correctEl.hidden = true; canvas.focus(); }
      return; // Enter submits the correction form
    }
    if (e.key === "Enter" && !(e.target instanceof HTMLButtonElement)) { e.preventDefault(); predict(); }
    if (e.key === "Escape") { e.preventDefault(); clearAll(); }
  });

  function say(text, bad) {
    statusEl.textContent = text;
    statusEl.classList.toggle("bad", !!bad);
  }

  // ---- live panel ----
  async function pollStats() {
    try {
      const r = await fetch("/api/v1/stats", { cache: "no-store" });
      if (r.ok) {
        const s = await r.json();
        $("live-rate").textContent = s.requests_per_second.toFixed(1) + " req/s";
        $("live-p99").textContent = "p99 " + (s.p99_ms ? Math.round(s.p99_ms) + " ms" : "–");
        $("live-model").textContent = "model " + (s.model || "–");
      }
    } catch (e) { /* the connection indicator says it */ }
    setTimeout(pollStats, 2000);
  }

  window.addEventListener("resize", fitCanvas);
  fitCanvas();
  connect();
  pollStats();
  // For tests and curious users: the page's state, read-only.
  window.stratus = { state: () => ({ strokes: strokes.length, drawingID: drawingID, wsOpen: wsOpen, lastFinal: lastFinal && { id: lastFinal.id, said: lastFinal.said } }) };
})();
