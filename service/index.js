"use strict";
// The page of tfsweep serve: the sweeps, one sweep's runs followed live, its figures once written.
// A file of its own, so that the page's Content-Security-Policy allows no inline script.
const api = "/api/v1";
const tokenInput = document.getElementById("token");
const message = document.getElementById("message");
tokenInput.value = sessionStorage.getItem("tfsweep-token") || "";
tokenInput.onchange = () => { sessionStorage.setItem("tfsweep-token", tokenInput.value); refresh(); if (shown) show(shown); };
function headers() { return tokenInput.value ? {Authorization: "Bearer " + tokenInput.value} : {}; }
async function call(path, method) {
  const r = await fetch(api + path, {method: method || "GET", headers: headers()});
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }

async function refresh() {
  let list;
  try { list = await call("/sweeps?limit=1000"); } catch (e) { message.textContent = e.message; return; }
  message.textContent = ""; // an earlier failure (a wrong token) is over
  const body = document.querySelector("#sweeps tbody");
  body.replaceChildren();
  for (const s of list.sweeps) {
    const tr = el("tr");
    const a = el("a", s.id); a.href = "#" + s.id; a.onclick = () => show(s.id);
    const td = el("td"); td.append(a); tr.append(td, el("td", s.state, "state-" + s.state), el("td", s.created));
    const cancel = el("button", "cancel"); cancel.disabled = !(s.state === "queued" || s.state === "running");
    cancel.onclick = async () => { await call("/sweeps/" + s.id + "/cancel", "POST").catch(e => { message.textContent = e.message; }); refresh(); };
    const c = el("td"); c.append(cancel); tr.append(c);
    body.append(tr);
  }
}

// shown is the sweep on screen; generation counts calls of show, so that the work of an earlier
// call (an event stream being aborted, figures loading) stops touching the page once another began.
let shown = null, generation = 0, following = null;

async function show(id) {
  const mine = ++generation;
  shown = id;
  if (following) { following.abort(); following = null; }
  const current = () => mine === generation;
  let v;
  try { v = await call("/sweeps/" + encodeURIComponent(id)); } catch (e) { if (current()) message.textContent = e.message; return; }
  if (!current()) return;
  const d = document.getElementById("detail");
  const heading = el("h2", id + " " + v.state);
  d.replaceChildren(heading, el("p", v.sweep_dir));
  if (v.tensorboard_url) { const a = el("a", "TensorBoard"); a.href = v.tensorboard_url; d.append(a); }
  const t = el("table"); t.innerHTML = "<thead><tr><th>run</th><th>state</th><th>epoch</th><th>progress</th><th>loss</th><th>samples/s</th></tr></thead>";
  const rows = {};
  const tb = el("tbody"); t.append(tb); d.append(t);
  function render(p) {
    let tr = rows[p.name];
    if (!tr) { tr = rows[p.name] = el("tr"); tb.append(tr); }
    const bar = el("progress"); const steps = (p.epochs || 1) * (p.steps_per_epoch || 1);
    bar.max = steps; bar.value = p.state === "succeeded" ? steps : (p.epoch * (p.steps_per_epoch || 0) + p.step_in_epoch);
    const cell = el("td"); cell.append(bar);
    tr.replaceChildren(el("td", p.name), el("td", p.reason ? p.state + ": " + p.reason : p.state, "state-" + p.state), el("td", p.epochs_completed + "/" + p.epochs), cell,
      el("td", p.loss ? p.loss.toFixed(4) : ""), el("td", p.samples_per_second ? p.samples_per_second.toFixed(0) : ""));
  }
  v.runs.forEach(render);
  if (v.result) { await showFigures(id, d, current); return; }
  // Follow the event stream (fetch, not EventSource, so that it can carry the token).
  following = new AbortController();
  const ended = await follow(id, following.signal, e => {
    if (!current()) return;
    if (e.run) render(e.run);
    if (e.type === "state") heading.textContent = id + " " + e.state;
  });
  if (ended && current()) { refresh(); show(id); }
}

// follow reads a sweep's event stream until it ends (true) or is aborted or fails (false).
async function follow(id, signal, onEvent) {
  let r;
  try { r = await fetch(api + "/sweeps/" + encodeURIComponent(id) + "/events", {headers: headers(), signal}); } catch (e) { return false; }
  if (!r.ok) return false;
  const reader = r.body.getReader(); const dec = new TextDecoder(); let buf = "";
  for (;;) {
    const {value, done} = await reader.read().catch(() => ({done: true, aborted: true}));
    if (signal.aborted) return false;
    if (done) return true;
    buf += dec.decode(value, {stream: true});
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
      for (const line of chunk.split("\n")) {
        if (line.startsWith("data: ")) onEvent(JSON.parse(line.slice(6)));
      }
    }
  }
}

async function showFigures(id, d, current) {
  try {
    const rep = await call("/sweeps/" + encodeURIComponent(id) + "/report");
    for (const f of rep.figures || []) {
      const r = await fetch(api + "/sweeps/" + encodeURIComponent(id) + "/" + f, {headers: headers()});
      if (!current()) return;
      if (r.ok) { const img = el("img"); img.alt = f; img.src = URL.createObjectURL(await r.blob()); d.append(img); }
    }
  } catch (e) { if (current()) d.append(el("p", e.message)); }
}

refresh(); setInterval(refresh, 5000);
if (location.hash.length > 1) show(location.hash.slice(1));
