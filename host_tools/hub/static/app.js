// Attune Studio, the page: instruments, live meters, settings, calibration, profiles and sound.
// Usage: served by the hub (attune studio) at /, loaded as a module by index.html.
// It speaks the hub's WebSocket protocol (docs/studio-api.md); every change goes to the device
// as a protocol line (docs/protocol.md), so the page and `attune` on the command line agree.

import { Synth, TIMBRES } from "./synth.js";
import { makeMeter, legend } from "./meter.js";

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k in e && k !== "list" && k !== "role") e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...kids.filter((k) => k != null));
  return e;
};

const NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
const noteName = (n) => NOTE_NAMES[n % 12] + (Math.floor(n / 12) - 1);
const REQUEST_TIMEOUT_MS = 6000;

// Plain words for the schema's keys; the device's own help text says the rest.
const LABELS = {
  channel: "MIDI channel",
  scale: "Scale",
  root: "Key",
  octave: "Lowest octave",
  transpose: "Move all notes",
  velocity_min: "Quietest note",
  velocity_max: "Loudest note",
  enabled: "Plays",
  mode: "What a movement does",
  sensitivity: "Sensitivity",
  range: "Movement range",
  smoothing: "Smoothing",
  dwell: "Hold before playing",
  lockout: "Pause after a note",
  tremor_guard: "Tremor guard",
  debounce: "Switch bounce filter",
  degree: "Note in the scale",
  chord: "Chord",
  melody: "Melody",
  zones: "Number of zones",
  velocity: "Loudness comes from",
  curve: "Loudness response",
  fixed_velocity: "Fixed loudness",
  cc: "Controller number",
  cc_min: "Controller at rest",
  cc_max: "Controller at full movement",
  invert: "Upside down",
  deadband: "Ignore tiny changes",
};
const COMMON = new Set(["enabled", "mode", "sensitivity", "range", "smoothing", "dwell", "lockout", "tremor_guard", "degree", "velocity"]);
const UNITS = { "%": "%", ms: "milliseconds", semitones: "semitones", steps: "steps", notes: "notes" };
const words = (s) => String(s).replace(/_/g, " ");
const label = (bare) => LABELS[bare] || words(bare).replace(/^./, (c) => c.toUpperCase());

// ---------------------------------------------------------------------------------------------
// State, shared with the tests and benchmarks as window.attuneStudio
const synth = new Synth();
window.attuneSound = synth;
const state = {
  connected: false,
  instruments: new Map(), // id -> Instrument (docs/studio-api.md)
  values: new Map(), // id -> {key: value as text}
  undo: new Map(), // id -> [{key, old}]
  meters: new Map(), // "id/sensor" -> [meter, ...] (the card's, and calibration's)
  sliders: new Map(), // "id/sensor" -> {input, out}
  marks: new Map(), // "id/sensor" -> note mark element
  profiles: new Map(), // id -> {active, profiles}
  midiBound: new Map(), // id -> MIDIInput name (notes come straight from USB MIDI)
  midiNotes: 0, // note-ons played from Web MIDI
  doctor: null, // the last Check-up's findings
  cues: 0, // cues marked from this page
  journalLive: [], // GET /api/journal/live's rows
  journalReport: null, // the client_report shown in the Journal view
  meterListeners: new Set(), // fn(device, channel, performance.now()) for benchmarks
  soundLatencies: [], // [{hub, scheduled, output, total}] ms, per note_on played from the hub
  meterFrames: 0,
  frameTimes: [],
  lastNoteAt: 0, // performance.now() of the last note_on from the hub
  levels: new Map(), // "id/sensor" -> the last level shown
  pressed: new Set(), // "id/sensor" pressed in the last meter frame
  hushed: new Set(), // "id/sensor" held through "Stop all sound": silent until released
  hushedNotes: new Set(), // "id/sensor" whose note the device played again, kept silent
  input: (device, sensor, value) => send({ type: "input", device, sensor, value }),
  lastExport: null,
  cal: null, // {device, sensor, phase, ends, result}
};
window.attuneStudio = state;

// ---------------------------------------------------------------------------------------------
// The hub: one WebSocket, requests answered by id
let ws = null;
let nextId = 1;
const pending = new Map();
let retryMs = 500;

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(proto + "//" + location.host + "/ws");
  ws.addEventListener("open", () => {
    state.connected = true;
    retryMs = 500;
    setHubState("Connected to Studio.");
  });
  ws.addEventListener("message", (ev) => {
    let m;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return;
    }
    onMessage(m);
  });
  ws.addEventListener("close", () => {
    state.connected = false;
    for (const [, p] of pending) p.reject(new Error("Lost the connection to Studio."));
    pending.clear();
    setHubState("Lost the connection to Studio. Trying again…");
    synth.panic();
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 5000);
  });
}

function send(obj) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(obj));
  return true;
}

/** Send one message that the hub answers with a `reply`; resolves with that reply. */
function call(msg) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    if (!send({ ...msg, id })) {
      reject(new Error("Studio is not connected."));
      return;
    }
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error("The instrument did not answer in time."));
    }, REQUEST_TIMEOUT_MS);
    pending.set(id, {
      resolve: (r) => {
        clearTimeout(timer);
        resolve(r);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
  });
}

/** One protocol line to a device; resolves with the OK payload, throws the device's reason. */
async function ask(device, line) {
  const r = await call({ type: "request", device, line });
  if (!r.ok) {
    const e = new Error(r.message || "The instrument refused this.");
    e.code = r.code;
    throw e;
  }
  return r.payload || {};
}

/** Resolves the call waiting for `id` with `reply`; false when no call waits for it. */
function settle(id, reply) {
  const p = pending.get(id);
  if (!p) return false;
  pending.delete(id);
  p.resolve(reply);
  return true;
}

function onMessage(m) {
  switch (m.type) {
    case "meter":
      onMeter(m);
      break;
    case "note":
      onNote(m);
      break;
    case "reply":
      settle(m.id, m);
      break;
    case "instruments":
      onInstruments(m.instruments || []);
      break;
    case "notice":
      onNotice(m);
      break;
    case "error":
      if (!settle(m.id, { ok: false, message: m.message })) say(m.message, true);
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Messages to the therapist
const hubState = $("#hub-state");
function setHubState(text) {
  hubState.textContent = text;
}
let sayTimer = 0;
function say(text, bad = false) {
  const box = $("#message");
  box.textContent = text;
  box.classList.toggle("bad", bad);
  clearTimeout(sayTimer);
  sayTimer = setTimeout(() => (box.textContent = ""), bad ? 15000 : 6000);
}

// ---------------------------------------------------------------------------------------------
// Meters and notes
function onMeter(m) {
  const now = performance.now();
  state.meterFrames += 1;
  // [arrival, device ms] of recent frames: how late frames come, for benchmarks
  if (typeof m.t === "number") {
    // (not the hub's snapshot for a page that has just connected: t null)
    state.frameTimes.push([now, m.t]);
    if (state.frameTimes.length > 300) state.frameTimes.shift();
  }
  for (const ch of m.channels || []) {
    const key = m.device + "/" + ch.name;
    state.levels.set(key, ch.level);
    if (ch.pressed) state.pressed.add(key);
    else {
      state.pressed.delete(key);
      state.hushed.delete(key);
      state.hushedNotes.delete(key);
    }
    const list = state.meters.get(key);
    if (list) for (const meter of list) meter.update(ch);
    for (const fn of state.meterListeners) fn(m.device, ch, now);
  }
}

function onNote(m) {
  const key = m.device + "/" + m.sensor;
  const on = m.kind === "note_on" && m.velocity > 0;
  const off = m.kind === "note_off" || (m.kind === "note_on" && m.velocity === 0);
  if (!on && !off) return;
  // the wall clock, as the hub's hub_ms (performance.timeOrigin can drift from it by ms)
  const received = Date.now();
  if (on) {
    state.pressed.add(key); // the note can come before the meter frame that shows the press
    state.lastNoteAt = performance.now();
  }
  if (!state.midiBound.has(m.device)) {
    if (on && state.hushed.has(key)) {
      // the device plays a sensor still held after a panic again; it stays silent here, and
      // the end of that note ends the hush (a release too brief for any meter frame to show)
      state.hushedNotes.add(key);
    } else if (on) {
      const start = synth.noteOn(m.device, m.note, m.velocity);
      if (start && typeof m.hub_ms === "number") {
        const hub = received - m.hub_ms;
        state.soundLatencies.push({
          hub,
          scheduled: start.scheduledMs,
          output: start.outputLatencyMs,
          total: hub + start.scheduledMs + start.outputLatencyMs,
        });
        if (state.soundLatencies.length > 1000) state.soundLatencies.shift();
      }
    } else {
      synth.noteOff(m.device, m.note);
      if (state.hushedNotes.delete(key)) state.hushed.delete(key);
    }
  }
  markNote(key, m.note, on);
}

function markNote(key, note, on) {
  const mark = state.marks.get(key);
  if (mark) {
    mark.textContent = on ? "♪ " + noteName(note) : "last " + noteName(note);
    mark.classList.toggle("on", on);
  }
  if (on) for (const meter of state.meters.get(key) || []) meter.note();
}

function addMeter(key, meter) {
  if (!state.meters.has(key)) state.meters.set(key, []);
  state.meters.get(key).push(meter);
}
function dropMeter(key, meter) {
  const list = state.meters.get(key);
  if (list) state.meters.set(key, list.filter((m) => m !== meter));
}

// ---------------------------------------------------------------------------------------------
// Instruments: one card each
function onInstruments(list) {
  const seen = new Set();
  for (const inst of list) {
    seen.add(inst.id);
    const before = state.instruments.get(inst.id);
    state.instruments.set(inst.id, inst);
    if (!before) {
      buildCard(inst);
      loadValues(inst.id);
    } else if (before.profile !== inst.profile || before.connected !== inst.connected) {
      loadValues(inst.id);
    }
    updateCard(inst);
  }
  for (const id of [...state.instruments.keys()]) {
    if (seen.has(id)) continue;
    state.instruments.delete(id);
    synth.releaseAll(id);
    const card = document.getElementById(cardId(id));
    if (card) card.remove();
    for (const key of [...state.meters.keys()]) if (key.startsWith(id + "/")) state.meters.delete(key);
  }
  $("#no-instruments").hidden = state.instruments.size > 0;
  $("#group").hidden = state.instruments.size === 0;
  fillPickers();
  fillGroupChoices();
  bindMidi();
}

const cardId = (id) => "card-" + String(id).replace(/[^A-Za-z0-9_-]/g, "_");

function buildCard(inst) {
  const id = inst.id;
  const titleId = cardId(id) + "-title";
  const card = el("article", { class: "card", id: cardId(id), "aria-labelledby": titleId });
  const head = el(
    "div",
    { class: "card-head" },
    el("h3", { id: titleId, text: inst.title || inst.name }),
    el("span", { class: "who" }),
    el("span", { class: "badge unsaved", text: "Unsaved changes", hidden: true }),
    el("span", { class: "badge sim", text: "Simulated", hidden: !inst.simulated }),
    el("span", { class: "badge off", text: "Not connected: plug it back in", hidden: true }),
  );
  card.append(head, legend());
  for (const ch of inst.channels || []) card.append(buildSensor(inst, ch));
  card.append(buildJournalRow(inst));
  card.append(
    el(
      "div",
      { class: "card-actions" },
      el("button", { type: "button", text: "Settings", onclick: () => openView("settings", id) }),
      el("button", { type: "button", text: "Calibrate", onclick: () => openView("calibrate", id) }),
      el("button", { type: "button", text: "Profiles", onclick: () => openView("profiles", id) }),
      el("button", { type: "button", text: "Check-up", onclick: () => openView("doctor", id) }),
    ),
  );
  $("#cards").append(card);
}

function buildSensor(inst, ch) {
  const id = inst.id;
  const key = id + "/" + ch.name;
  const box = el("div", { class: "sensor" });
  const mark = el("span", { class: "note-mark", text: "" });
  state.marks.set(key, mark);
  box.append(el("div", { class: "sensor-head" }, el("span", { class: "sensor-name", text: ch.name }), mark));
  const meter = makeMeter(ch.name);
  addMeter(key, meter);
  box.append(meter.root);
  if (ch.kind !== "switch") box.append(buildSensitivity(id, ch.name));
  if (inst.simulated) box.append(buildVirtual(id, ch));
  return box;
}

function buildSensitivity(id, sensor) {
  const key = id + "/" + sensor;
  const sid = cardId(id) + "-" + sensor + "-sens";
  const input = el("input", {
    type: "range",
    id: sid,
    min: "1",
    max: "100",
    step: "1",
    value: "75",
  });
  const out = el("output", { for: sid, text: "75 %" });
  state.sliders.set(key, { input, out });
  let before = null;
  input.addEventListener("focus", () => (before = input.value));
  input.addEventListener("pointerdown", () => (before = input.value));
  input.addEventListener("input", () => {
    out.textContent = input.value + " %";
    input.setAttribute("aria-valuetext", input.value + " %");
    sendSensitivity(id, sensor, input.value);
  });
  input.addEventListener("change", () => {
    if (before != null && before !== input.value) pushUndo(id, sensor + ".sensitivity", before);
    before = input.value;
  });
  return el(
    "div",
    { class: "slider-row" },
    el("label", { for: sid, text: sensor + " sensitivity" }),
    input,
    out,
  );
}

// While a `set` is on its way, only the newest value waits (a drag never floods the device).
const sensInFlight = new Map();
async function sendSensitivity(id, sensor, value) {
  const key = id + "/" + sensor;
  if (sensInFlight.has(key)) {
    sensInFlight.set(key, value);
    return;
  }
  sensInFlight.set(key, null);
  let v = value;
  while (v != null) {
    try {
      const p = await ask(id, "set " + sensor + ".sensitivity " + v);
      storeValue(id, p.key || sensor + ".sensitivity", p.value ?? String(v));
      markUnsaved(id);
    } catch (e) {
      say(sensor + " sensitivity: " + e.message, true);
    }
    v = sensInFlight.get(key);
    sensInFlight.set(key, null);
  }
  sensInFlight.delete(key);
}

function buildVirtual(id, ch, where = "card") {
  const sensor = ch.name;
  const wrap = el("div", { class: "virtual", role: "group", "aria-label": "Play " + sensor + " here" });
  const press = el("button", { type: "button", class: "press", "aria-pressed": "false", text: "Press " + sensor });
  let down = false;
  const set = (value) => send({ type: "input", device: id, sensor, value });
  const start = () => {
    if (down) return;
    down = true;
    synth.start();
    press.setAttribute("aria-pressed", "true");
    set(1);
  };
  const stop = () => {
    if (!down) return;
    down = false;
    press.setAttribute("aria-pressed", "false");
    set(0);
  };
  press.addEventListener("pointerdown", (e) => {
    press.setPointerCapture?.(e.pointerId);
    start();
  });
  press.addEventListener("pointerup", stop);
  press.addEventListener("pointercancel", stop);
  press.addEventListener("lostpointercapture", stop);
  press.addEventListener("keydown", (e) => {
    if ((e.key === " " || e.key === "Enter") && !e.repeat) {
      e.preventDefault();
      start();
    }
  });
  press.addEventListener("keyup", (e) => {
    if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      stop();
    }
  });
  press.addEventListener("blur", stop);
  wrap.append(press);
  if (ch.kind !== "switch") {
    const mid = cardId(id) + "-" + sensor + "-" + where + "-move";
    const move = el("input", { type: "range", id: mid, min: "0", max: "100", value: "0", class: "move" });
    move.setAttribute("aria-valuetext", "0 %");
    move.addEventListener("input", () => {
      move.setAttribute("aria-valuetext", move.value + " %");
      set(Number(move.value) / 100);
    });
    wrap.append(el("label", { for: mid, text: "Move " + sensor }), move);
  }
  return wrap;
}

function updateCard(inst) {
  const card = document.getElementById(cardId(inst.id));
  if (!card) return;
  $("h3", card).textContent = inst.title || inst.name;
  const who = inst.player || inst.profile;
  $(".who", card).textContent = who ? "Profile: " + who : "No profile loaded";
  $(".badge.unsaved", card).hidden = !inst.unsaved;
  const off = $(".badge.off", card);
  off.hidden = inst.connected !== false;
  off.textContent = inst.released ? "Let go of for " + inst.released : "Not connected: plug it back in";
  const rec = inst.recording;
  $(".rec-state", card).textContent = rec
    ? "Recording " + rec.client + "'s session."
    : inst.not_recording || "Not recording.";
  $(".rec-state", card).classList.toggle("on", !!rec);
  for (const c of card.querySelectorAll(".journal-row button, .journal-row input")) c.disabled = !rec;
}

function markUnsaved(id) {
  const inst = state.instruments.get(id);
  if (!inst) return;
  inst.unsaved = true;
  updateCard(inst);
}

function fillPickers() {
  for (const sel of document.querySelectorAll(".device-picker")) {
    const chosen = sel.value;
    sel.replaceChildren();
    for (const inst of state.instruments.values()) {
      const who = inst.player || inst.profile;
      sel.append(el("option", { value: inst.id, text: (inst.title || inst.name) + (who ? " (" + who + ")" : "") }));
    }
    if (chosen && state.instruments.has(chosen)) sel.value = chosen;
  }
  fillCalSensors();
}

function fillGroupChoices() {
  const first = [...state.instruments.values()][0];
  if (!first) return;
  const rows = first.params || [];
  const scaleRow = rows.find((r) => r.key === "scale");
  const rootRow = rows.find((r) => r.key === "root");
  const fill = (sel, row) => {
    if (!row || sel.options.length) return;
    for (const c of row.choices || []) sel.append(el("option", { value: c, text: words(c) }));
  };
  fill($("#group-root"), rootRow);
  fill($("#group-scale"), scaleRow);
  const v = state.values.get(first.id) || {};
  if (v.root && !$("#group-root").dataset.touched) $("#group-root").value = v.root;
  if (v.scale && !$("#group-scale").dataset.touched) $("#group-scale").value = v.scale;
}

// ---------------------------------------------------------------------------------------------
// Values: the device's settings as text, as `get` gives them
async function loadValues(id) {
  const inst = state.instruments.get(id);
  if (!inst || inst.connected === false) return;
  const values = {};
  try {
    const g = await ask(id, "get global");
    Object.assign(values, g.values || {});
    for (const ch of inst.channels || []) {
      const p = await ask(id, "get " + ch.name);
      Object.assign(values, p.values || {});
    }
  } catch (e) {
    say((inst.title || inst.name) + ": could not read its settings. " + e.message, true);
    return;
  }
  state.values.set(id, values);
  for (const ch of inst.channels || []) {
    const s = state.sliders.get(id + "/" + ch.name);
    const v = values[ch.name + ".sensitivity"];
    if (s && v != null && document.activeElement !== s.input) {
      s.input.value = v;
      s.out.textContent = v + " %";
      s.input.setAttribute("aria-valuetext", v + " %");
    }
  }
  fillGroupChoices();
  if (currentDevice("settings") === id && currentView === "settings") renderSettings();
}

function storeValue(id, key, value) {
  if (!state.values.has(id)) state.values.set(id, {});
  state.values.get(id)[key] = String(value);
  const dot = key.indexOf(".");
  if (key.endsWith(".sensitivity")) {
    const s = state.sliders.get(id + "/" + key.slice(0, dot));
    if (s && document.activeElement !== s.input) {
      s.input.value = value;
      s.out.textContent = value + " %";
      s.input.setAttribute("aria-valuetext", value + " %");
    }
  }
}

function pushUndo(id, key, old) {
  if (!state.undo.has(id)) state.undo.set(id, []);
  state.undo.get(id).push({ key, old });
  $("#settings-undo").disabled = false;
}

/** `set key value`; returns the stored value, or throws with the device's reason. */
async function setValue(id, key, value, undoable = true) {
  const old = (state.values.get(id) || {})[key];
  const p = await ask(id, "set " + key + " " + value);
  const stored = p.value ?? String(value);
  storeValue(id, key, stored);
  if (undoable && old != null && old !== stored) pushUndo(id, key, old);
  markUnsaved(id);
  return stored;
}

// ---------------------------------------------------------------------------------------------
// Views
let currentView = "instruments";
const VIEWS = ["instruments", "settings", "calibrate", "profiles", "sound", "journal", "doctor"];

function openView(name, device) {
  if (!VIEWS.includes(name)) name = "instruments";
  currentView = name;
  for (const v of VIEWS) $("#view-" + v).hidden = v !== name;
  for (const b of document.querySelectorAll(".views button")) {
    if (b.dataset.view === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  if (device) for (const sel of document.querySelectorAll(".device-picker")) sel.value = device;
  if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
  if (name === "settings") renderSettings();
  if (name === "profiles") refreshProfiles();
  if (name === "calibrate") fillCalSensors();
  if (name === "sound") renderSoundSource();
  if (name === "doctor" && device) runDoctor();
  if (name === "journal") refreshJournal();
}

function currentDevice(view) {
  const sel = $("#" + (view === "calibrate" ? "cal" : view) + "-device");
  return sel && sel.value ? sel.value : [...state.instruments.keys()][0];
}

// ---------------------------------------------------------------------------------------------
// Settings, generated from the device's own schema
function rowsByGroup(inst) {
  const groups = new Map([["global", []]]);
  for (const ch of inst.channels || []) groups.set(ch.name, []);
  for (const row of inst.params || []) {
    const dot = row.key.indexOf(".");
    if (dot > 0) {
      const g = row.key.slice(0, dot);
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(row);
    } else if (row.scope === "channel") {
      for (const ch of inst.channels || []) groups.get(ch.name).push({ ...row, key: ch.name + "." + row.key });
    } else groups.get("global").push(row);
  }
  return groups;
}

function renderSettings() {
  const form = $("#settings-form");
  const id = currentDevice("settings");
  const inst = state.instruments.get(id);
  $("#compare").hidden = true;
  $("#settings-undo").disabled = !(state.undo.get(id) || []).length;
  if (!inst) {
    form.replaceChildren(el("p", { class: "empty", text: "No instrument yet." }));
    form.dataset.device = "";
    return;
  }
  const values = state.values.get(id) || {};
  const advanced = $("#settings-advanced").checked;
  const opened = new Set([...form.querySelectorAll("details[open]")].map((d) => d.dataset.group));
  if (advanced) for (const g of rowsByGroup(inst).keys()) opened.add(g + "/more");
  const fresh = !form.dataset.device || form.dataset.device !== id;
  form.dataset.device = id;
  form.replaceChildren();
  let first = true;
  for (const [group, rows] of rowsByGroup(inst)) {
    if (!rows.length) continue;
    const title = group === "global" ? "Whole instrument" : "Sensor: " + group;
    const open = fresh ? first || group === "global" : opened.has(group);
    const det = el("details", { class: "setting-group", open, "data-group": group });
    if (group !== "global") first = false;
    det.append(el("summary", {}, el("h3", { text: title })));
    // the settings a session usually needs first; the rest one click further
    const more = el("details", { class: "more", "data-group": group + "/more", open: opened.has(group + "/more") });
    more.append(el("summary", { text: "More settings" + (group === "global" ? "" : " for " + group) }));
    for (const row of rows) {
      const bare = row.key.slice(row.key.indexOf(".") + 1);
      const box = settingRow(id, row, values[row.key], advanced);
      ((group === "global" ? bare !== "channel" : COMMON.has(bare)) ? det : more).append(box);
    }
    if (more.children.length > 1) det.append(more);
    form.append(det);
  }
}

function settingRow(id, row, value, advanced) {
  const bare = row.key.includes(".") ? row.key.slice(row.key.indexOf(".") + 1) : row.key;
  const cid = "set-" + cardId(id) + "-" + row.key.replace(/\./g, "-");
  const helpId = cid + "-help";
  const errId = cid + "-err";
  const unit = UNITS[row.unit] || row.unit || "";
  const box = el("div", { class: "setting", "data-key": row.key });
  let control;
  const shown = value ?? row.default ?? "";
  if (row.type === "choice" || row.type === "onoff") {
    control = el("select", { id: cid });
    for (const c of row.choices || []) control.append(el("option", { value: c, text: words(c) }));
    control.value = shown;
  } else if (row.type === "notes") {
    control = el("input", { type: "text", id: cid, class: "notes", value: shown, spellcheck: false });
  } else {
    control = el("input", { type: "number", id: cid, value: shown, min: row.min, max: row.max, step: "1", inputmode: "numeric" });
  }
  control.setAttribute("aria-describedby", helpId + " " + errId);
  const err = el("p", { class: "error", id: errId, role: "alert" });
  const read = () => control.value.trim();
  const reset = (v) => (control.value = v ?? "");
  control.addEventListener("change", async () => {
    err.textContent = "";
    const v = read();
    try {
      reset(await setValue(id, row.key, v));
      $("#settings-undo").disabled = false;
    } catch (e) {
      err.textContent = "Not changed: " + e.message;
      reset((state.values.get(id) || {})[row.key]);
    }
  });
  const range = row.type === "int" && row.min != null ? row.min + " to " + row.max + (unit ? " " + unit : "") : "";
  box.append(
    ...[
    el("label", { for: cid, text: label(bare) }),
    el("div", { class: "control" }, control, unit && row.type === "int" ? el("span", { text: unit }) : null),
    el("p", { class: "help", id: helpId, text: row.help + (range ? " (" + range + ")" : "") }),
    advanced ? el("p", { class: "raw", text: "Setting name: " + row.key + " (default " + row.default + ")" }) : null,
    err,
    ].filter(Boolean),
  );
  return box;
}

async function undoLast() {
  const id = currentDevice("settings");
  const list = state.undo.get(id) || [];
  const last = list.pop();
  $("#settings-undo").disabled = !list.length;
  if (!last) return;
  try {
    await setValue(id, last.key, last.old, false);
    say("Undone: " + last.key + " is back to " + last.old + ".");
  } catch (e) {
    say("Could not undo: " + e.message, true);
  }
  if (currentView === "settings") renderSettings();
}

async function compareWithSaved() {
  const id = currentDevice("settings");
  const inst = state.instruments.get(id);
  const box = $("#compare");
  box.hidden = false;
  box.replaceChildren();
  for (const r of document.querySelectorAll(".setting.changed")) r.classList.remove("changed");
  if (!inst || !inst.profile) {
    box.append(el("p", { text: "No saved profile is in use yet, so there is nothing to compare with. Save one on the Profiles page." }));
    return;
  }
  let saved;
  try {
    saved = (await ask(id, "profile show " + inst.profile)).values || {};
  } catch (e) {
    box.append(el("p", { class: "error", text: "Could not read the saved profile: " + e.message }));
    return;
  }
  const now = state.values.get(id) || {};
  const diffs = Object.keys(now).filter((k) => k in saved && saved[k] !== now[k]);
  box.append(el("h3", { text: "Compared with the saved profile " + inst.profile }));
  if (!diffs.length) {
    box.append(el("p", { text: "Nothing differs from the saved profile." }));
    return;
  }
  const tbody = el("tbody");
  for (const k of diffs) {
    tbody.append(el("tr", {}, el("th", { scope: "row", text: k }), el("td", { text: now[k] }), el("td", { text: saved[k] })));
    const row = document.querySelector('.setting[data-key="' + CSS.escape(k) + '"]');
    if (row) row.classList.add("changed");
  }
  box.append(
    el("p", { text: diffs.length + (diffs.length === 1 ? " setting differs" : " settings differ") + " (highlighted below)." }),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Setting" }), el("th", { scope: "col", text: "Now" }), el("th", { scope: "col", text: "Saved" }))), tbody),
  );
}

async function resetSettings() {
  const id = currentDevice("settings");
  const inst = state.instruments.get(id);
  if (!inst) return;
  const ok = await dialog({
    title: "Reset every setting?",
    text: "Every setting of " + (inst.title || inst.name) + " goes back to the instrument's defaults. The saved profile stays as it is, so you can load it again.",
    ok: "Reset settings",
  });
  if (!ok) return;
  try {
    await ask(id, "reset");
    state.undo.set(id, []);
    markUnsaved(id);
    await loadValues(id);
    say("Settings reset to the defaults.");
  } catch (e) {
    say("Could not reset: " + e.message, true);
  }
  renderSettings();
}

// ---------------------------------------------------------------------------------------------
// Guided calibration
let calTimer = 0;
let calMeter = null;

function fillCalSensors() {
  const id = currentDevice("calibrate");
  const inst = state.instruments.get(id);
  const sel = $("#cal-sensor");
  const chosen = sel.value;
  sel.replaceChildren();
  for (const ch of (inst && inst.channels) || []) {
    if (ch.kind === "switch") continue;
    sel.append(el("option", { value: ch.name, text: ch.name }));
  }
  if (chosen && [...sel.options].some((o) => o.value === chosen)) sel.value = chosen;
  $("#cal-start").disabled = !sel.options.length || !!(state.cal && !state.cal.done);
}

async function startCalibration() {
  const device = currentDevice("calibrate");
  const sensor = $("#cal-sensor").value;
  if (!device || !sensor) return;
  synth.start();
  showCalMeter(device, sensor);
  state.cal = { device, sensor, phase: "starting", done: false, before: { ...(state.values.get(device) || {}) } };
  $("#cal-panel").hidden = false;
  $("#cal-result").hidden = true;
  $("#cal-apply").hidden = true;
  $("#cal-cancel").textContent = "Cancel calibration";
  $("#cal-start").disabled = true;
  try {
    const p = await ask(device, "calibrate " + sensor);
    calPhase(p.phase || "rest", p.message || "Keep still.");
  } catch (e) {
    state.cal.done = true;
    $("#cal-phase").textContent = "Calibration could not start: " + e.message;
    $("#cal-start").disabled = false;
  }
}

function showCalMeter(device, sensor) {
  if (calMeter) dropMeter(calMeter.key, calMeter);
  calMeter = makeMeter(sensor);
  calMeter.key = device + "/" + sensor;
  addMeter(calMeter.key, calMeter);
  $("#cal-meter-slot").replaceChildren(calMeter.root, legend());
  const inst = state.instruments.get(device);
  const ch = inst && (inst.channels || []).find((c) => c.name === sensor);
  if (inst && inst.simulated && ch) $("#cal-meter-slot").append(buildVirtual(device, ch, "cal"));
}

const PHASE_SECONDS = { rest: 3, move: 5 };
const PHASE_WORDS = { rest: "Keep still", move: "Now move as far as is comfortable" };

async function calPhase(phase, message) {
  const cal = state.cal;
  if (!cal) return;
  cal.phase = phase;
  clearInterval(calTimer);
  $("#cal-phase").textContent = plainCal(message) || PHASE_WORDS[phase] + ".";
  if (PHASE_SECONDS[phase]) {
    cal.ends = performance.now() + PHASE_SECONDS[phase] * 1000;
    const tick = () => {
      const left = Math.max(0, Math.ceil((cal.ends - performance.now()) / 1000));
      $("#cal-count").textContent = left ? left + (left === 1 ? " second" : " seconds") : "";
    };
    tick();
    calTimer = setInterval(tick, 200);
    try {
      // the device knows best how long is left
      const s = await ask(cal.device, "calibrate");
      if (s.phase === phase && typeof s.seconds_left === "number") cal.ends = performance.now() + s.seconds_left * 1000;
    } catch {
      /* the local countdown stands */
    }
  } else $("#cal-count").textContent = "";
}

/** The device's calibration words without what only a command line needs (key=value, commands). */
function plainCal(message) {
  return String(message || "")
    .split(" ")
    .filter((w) => !/^[a-z_]+=\S+$/.test(w))
    .join(" ")
    .replace(/\s*Send 'calibrate apply'.*$/, "")
    .trim();
}

function onNotice(m) {
  if (m.kind !== "calibrate") {
    const inst = state.instruments.get(m.device);
    say((inst ? (inst.title || inst.name) + ": " : "") + m.text, m.kind === "fault");
    return;
  }
  // the hub parses `* calibrate <sensor> <phase> <words>`; the text is read here as a fallback
  const text = String(m.text || "").replace(/^(\* )?calibrate\s+/, "");
  const [tSensor, tPhase, ...rest] = text.split(" ");
  const sensor = m.sensor || tSensor;
  const phase = m.phase || tPhase;
  const cal = state.cal;
  if (!cal || cal.device !== m.device || cal.sensor !== sensor) return;
  const fields = { ...(m.values || {}) };
  const msg = [];
  for (const w of rest) {
    const eq = /^([a-z_]+)=(\S+)$/.exec(w);
    if (eq) fields[eq[1]] ??= eq[2];
    else msg.push(w);
  }
  const message = m.message || msg.join(" ");
  if (phase === "rest" || phase === "move") calPhase(phase, message);
  else if (phase === "result") calResult(fields, message);
  else calEnd(phase === "failed" ? "Calibration did not work: " + plainCal(message) : "Calibration cancelled. Nothing was changed.");
}

function calResult(fields, message) {
  const cal = state.cal;
  clearInterval(calTimer);
  cal.phase = "result";
  cal.result = fields;
  $("#cal-count").textContent = "";
  $("#cal-phase").textContent = "Done. " + plainCal(message);
  const before = state.values.get(cal.device) || cal.before;
  const tbody = $("#cal-table");
  tbody.replaceChildren();
  for (const k of ["range", "sensitivity"]) {
    const key = cal.sensor + "." + k;
    tbody.append(
      el("tr", {}, el("th", { scope: "row", text: label(k) + " (" + cal.sensor + ")" }), el("td", { text: (before[key] ?? "?") + " %" }), el("td", { text: (fields[k] ?? "?") + " %" })),
    );
  }
  $("#cal-result").hidden = false;
  $("#cal-apply").hidden = false;
  $("#cal-cancel").textContent = "Keep the old settings";
  $("#cal-apply").focus();
}

function calEnd(text) {
  clearInterval(calTimer);
  if (state.cal) state.cal.done = true;
  $("#cal-count").textContent = "";
  $("#cal-phase").textContent = text;
  $("#cal-apply").hidden = true;
  $("#cal-cancel").textContent = "Close";
  $("#cal-start").disabled = false;
}

async function applyCalibration() {
  const cal = state.cal;
  if (!cal) return;
  try {
    const p = await ask(cal.device, "calibrate apply");
    for (const [k, v] of Object.entries(p.applied || {})) storeValue(cal.device, k, v);
    markUnsaved(cal.device);
    calEnd("Applied. Save the profile to keep it for the next session.");
    say("Calibration applied to " + cal.sensor + ".");
  } catch (e) {
    say("Could not apply: " + e.message, true);
  }
}

async function cancelCalibration() {
  const cal = state.cal;
  if (!cal || cal.done) {
    $("#cal-panel").hidden = true;
    return;
  }
  try {
    await ask(cal.device, "calibrate cancel");
  } catch (e) {
    say("Could not cancel: " + e.message, true);
  }
  calEnd("Calibration cancelled. Nothing was changed.");
}

// ---------------------------------------------------------------------------------------------
// Client profiles
const NAME_OK = /^[A-Za-z0-9_-]{1,24}$/;
const NAME_RULE = "A profile name has 1 to 24 letters, digits, - or _ (no spaces).";

async function refreshProfiles() {
  const id = currentDevice("profiles");
  const list = $("#profile-list");
  if (!id) {
    list.replaceChildren();
    return;
  }
  let p;
  try {
    p = await ask(id, "profile list");
  } catch (e) {
    say("Could not read the profiles: " + e.message, true);
    return;
  }
  state.profiles.set(id, p);
  const inst = state.instruments.get(id);
  if (inst && p.active !== undefined && inst.profile !== p.active) {
    inst.profile = p.active;
    updateCard(inst);
  }
  if (!$("#save-name").value && p.active) $("#save-name").value = p.active;
  list.replaceChildren();
  if (!(p.profiles || []).length) {
    list.append(el("li", { text: "No profile saved on this instrument yet." }));
    return;
  }
  for (const name of p.profiles) {
    const active = name === p.active;
    list.append(
      el(
        "li",
        { "data-profile": name },
        el("span", { class: "pname", text: name + (active ? " (in use)" : "") }),
        el("button", { type: "button", text: "Load", "aria-label": "Load " + name, onclick: () => loadProfile(id, name) }),
        el("button", { type: "button", text: "Rename", "aria-label": "Rename " + name, onclick: () => renameProfile(id, name) }),
        el("button", { type: "button", text: "Export", "aria-label": "Export " + name, onclick: () => exportProfile(id, name) }),
        el("button", { type: "button", text: "Delete", "aria-label": "Delete " + name, onclick: () => deleteProfile(id, name) }),
      ),
    );
  }
}

async function saveProfile(ev) {
  ev.preventDefault();
  const id = currentDevice("profiles");
  const name = $("#save-name").value.trim();
  if (!NAME_OK.test(name)) {
    say(NAME_RULE, true);
    return;
  }
  const known = (state.profiles.get(id) || {}).profiles || [];
  if (known.includes(name)) {
    const ok = await dialog({ title: "Replace " + name + "?", text: "A profile called " + name + " is already saved. Replace it with the current settings?", ok: "Replace " + name });
    if (!ok) return;
  }
  try {
    await ask(id, "profile save " + name);
    const inst = state.instruments.get(id);
    if (inst) {
      inst.unsaved = false;
      inst.profile = name;
      updateCard(inst);
    }
    say("Saved the settings as " + name + ".");
  } catch (e) {
    say("Could not save: " + e.message, true);
  }
  refreshProfiles();
}

async function loadProfile(id, name) {
  const inst = state.instruments.get(id);
  if (inst && inst.unsaved) {
    const ok = await dialog({ title: "Load " + name + "?", text: "The current settings have changes that are not saved. Loading " + name + " replaces them.", ok: "Load " + name });
    if (!ok) return;
  }
  try {
    const p = await ask(id, "profile load " + name);
    const skipped = (p.skipped || []).length ? " Skipped: " + p.skipped.join(" ") : "";
    say("Loaded " + name + (p.from === "backup" ? " from its backup (" + p.reason + ")" : "") + "." + skipped);
    if (inst) {
      inst.profile = name;
      inst.unsaved = false;
      updateCard(inst);
    }
    state.undo.set(id, []);
    await loadValues(id);
  } catch (e) {
    say("Could not load " + name + ": " + e.message, true);
  }
  refreshProfiles();
}

async function renameProfile(id, name) {
  const to = await dialog({ title: "Rename " + name, text: NAME_RULE, ok: "Rename", input: { label: "New name", value: name } });
  if (to == null || to === name) return;
  if (!NAME_OK.test(to)) {
    say(NAME_RULE, true);
    return;
  }
  try {
    await ask(id, "profile rename " + name + " " + to);
    say("Renamed " + name + " to " + to + ".");
  } catch (e) {
    say("Could not rename: " + e.message, true);
  }
  refreshProfiles();
}

async function deleteProfile(id, name) {
  const ok = await dialog({ title: "Delete " + name + "?", text: "The saved profile " + name + " is removed from the instrument. Export it first if you may need it again.", ok: "Delete " + name });
  if (!ok) return;
  try {
    await ask(id, "profile delete " + name);
    say("Deleted " + name + ".");
  } catch (e) {
    say("Could not delete: " + e.message, true);
  }
  refreshProfiles();
}

async function exportProfile(id, name) {
  const inst = state.instruments.get(id) || {};
  let shown;
  try {
    shown = await ask(id, "profile show " + name);
  } catch (e) {
    say("Could not export: " + e.message, true);
    return;
  }
  // the same file as `attune profile export` writes (host_tools/client.py)
  const doc = {
    format: "attune-profile",
    version: 1,
    name: shown.name || name,
    instrument: inst.name || "",
    title: inst.title || "",
    firmware: inst.firmware || "",
    saved_at: new Date().toISOString().replace(/\.\d+Z$/, "+00:00"),
    values: Object.fromEntries(Object.entries(shown.values || {}).map(([k, v]) => [String(k), String(v)])),
  };
  state.lastExport = doc;
  const blob = new Blob([JSON.stringify(doc, null, 2) + "\n"], { type: "application/json" });
  const a = el("a", { href: URL.createObjectURL(blob), download: name + ".attune.json" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  say("Exported " + name + " as " + name + ".attune.json (in your Downloads folder).");
}

function checkProfileDoc(doc) {
  if (!doc || typeof doc !== "object" || doc.format !== "attune-profile") return "This file is not an Attune profile.";
  if (!Number.isInteger(doc.version) || doc.version < 1) return "This file has no valid profile format version.";
  if (doc.version > 1) return "This file was written by a newer version of Attune; update Studio to read it.";
  if (!doc.values || typeof doc.values !== "object" || !Object.keys(doc.values).length) return "This file holds no settings.";
  for (const [k, v] of Object.entries(doc.values)) {
    if (!/^[\x21-\x7e]+$/.test(k) || !/^[\x20-\x7e]*$/.test(String(v)) || (typeof v !== "string" && !Number.isInteger(v)))
      return "The setting " + k + " in this file is not valid.";
  }
  return "";
}

async function importProfile(file) {
  const id = currentDevice("profiles");
  let doc;
  try {
    doc = JSON.parse(await file.text());
  } catch {
    say(file.name + " is not an Attune profile (it is not JSON).", true);
    return;
  }
  const bad = checkProfileDoc(doc);
  if (bad) {
    say(file.name + ": " + bad, true);
    return;
  }
  const suggested = NAME_OK.test(String(doc.name || "")) ? String(doc.name) : "";
  const name = await dialog({ title: "Import " + file.name, text: "Save the settings from this file as the profile named:", ok: "Import", input: { label: "Profile name", value: suggested } });
  if (name == null) return;
  if (!NAME_OK.test(name)) {
    say(NAME_RULE, true);
    return;
  }
  await refreshProfiles();
  const known = (state.profiles.get(id) || {}).profiles || [];
  if (known.includes(name)) {
    const ok = await dialog({ title: "Replace " + name + "?", text: "A profile called " + name + " is already saved on this instrument. Replace it with the one from the file?", ok: "Replace " + name });
    if (!ok) return;
  }
  // like `attune profile import`: every value, refused ones collected, value errors tried again
  const refused = {};
  const retry = [];
  let applied = 0;
  for (const [k, v] of Object.entries(doc.values)) {
    try {
      await setValue(id, k, String(v), false);
      applied += 1;
    } catch (e) {
      refused[k] = e.message;
      if (e.code === "value") retry.push(k);
    }
  }
  for (const k of retry) {
    try {
      await setValue(id, k, String(doc.values[k]), false);
      delete refused[k];
      applied += 1;
    } catch (e) {
      refused[k] = e.message;
    }
  }
  try {
    await ask(id, "profile save " + name);
  } catch (e) {
    say("Could not save the imported profile: " + e.message, true);
    return;
  }
  const inst = state.instruments.get(id);
  if (inst) {
    inst.profile = name;
    inst.unsaved = false;
    updateCard(inst);
  }
  const skipped = Object.entries(refused).map(([k, r]) => k + ": " + r);
  say("Imported " + name + " (" + applied + " settings)." + (skipped.length ? " Not used: " + skipped.join("; ") : ""), skipped.length > 0);
  refreshProfiles();
}

// ---------------------------------------------------------------------------------------------
// A confirmation dialog; resolves true / the typed text, or null when cancelled
function dialog({ title, text, ok = "OK", input = null }) {
  const d = $("#dialog");
  $("#dialog-title").textContent = title;
  $("#dialog-text").textContent = text;
  $("#dialog-ok").textContent = ok;
  $("#dialog-field").hidden = !input;
  const field = $("#dialog-input");
  if (input) {
    $("#dialog-label").textContent = input.label;
    field.value = input.value || "";
  }
  d.returnValue = "";
  return new Promise((resolve) => {
    d.addEventListener(
      "close",
      () => resolve(d.returnValue === "ok" ? (input ? field.value.trim() : true) : null),
      { once: true },
    );
    d.showModal();
    (input ? field : $("#dialog-cancel")).focus();
  });
}

// ---------------------------------------------------------------------------------------------
// The session journal: recording state, cue and notes on each card; the Journal view
function buildJournalRow(inst) {
  const id = inst.id;
  const nid = cardId(id) + "-note";
  const form = el(
    "form",
    { class: "note-form" },
    el("label", { for: nid, text: "Note for this session" }),
    el("input", { id: nid, maxlength: "500", autocomplete: "off" }),
    el("button", { type: "submit", text: "Add note" }),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    addNote(id, $("input", form));
  });
  return el(
    "div",
    { class: "journal-row" },
    el("p", { class: "rec-state" }),
    el("p", { class: "rec-figures", "aria-live": "off" }),
    el("div", { class: "row" }, el("button", { type: "button", class: "cue", text: "Cue", "aria-keyshortcuts": "C", "aria-describedby": "key-help", onclick: () => cue([id]) })),
    form,
  );
}

async function postJson(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let doc = {};
  try {
    doc = await r.json();
  } catch {
    /* no body */
  }
  if (!r.ok) throw new Error(doc.error || "Studio refused this.");
  return doc;
}

/** A cue on each instrument in `ids` (the moment the therapist invites a response). */
async function cue(ids) {
  const done = [];
  const failed = [];
  for (const id of ids) {
    try {
      const r = await postJson("/api/journal/cue", { device: id });
      done.push(r.client + " on " + (state.instruments.get(id)?.title || id));
      state.cues += 1;
    } catch (e) {
      failed.push(e.message);
    }
  }
  if (failed.length) say(failed.join(" "), true);
  else if (done.length) say("Cue marked for " + done.join(", ") + ".");
  refreshLive();
}

function cueAll() {
  const ids = [...state.instruments.values()].filter((i) => i.recording).map((i) => i.id);
  if (!ids.length) {
    say("Nothing is recording: load a client's profile on an instrument first.", true);
    return;
  }
  cue(ids);
}

async function addNote(id, input) {
  const text = input.value.trim();
  if (!text) return;
  try {
    const r = await postJson("/api/journal/note", { device: id, text });
    input.value = "";
    say("Note kept with " + r.client + "'s session.");
  } catch (e) {
    say("Could not keep the note: " + e.message, true);
  }
}

const answered = (r) => r.cues ? r.responded + " of " + r.cues + " cues answered" : "no cues yet";

/** The live figures of every recording (GET /api/journal/live): on the cards and the view. */
async function refreshLive() {
  let doc;
  try {
    const r = await fetch("/api/journal/live");
    if (!r.ok) return;
    doc = await r.json();
  } catch {
    return;
  }
  state.journalLive = doc.instruments;
  const list = $("#journal-live");
  list.replaceChildren();
  for (const row of doc.instruments) {
    const inst = state.instruments.get(row.device) || {};
    const card = document.getElementById(cardId(row.device));
    const figures = row.recording ? row.activations + (row.activations === 1 ? " press, " : " presses, ") + answered(row) + "." : "";
    if (card) $(".rec-figures", card).textContent = figures;
    list.append(el("li", { text: (inst.title || row.device) + ": " + (row.recording ? "recording " + row.client + "'s session: " + figures : row.reason) }));
  }
}

const fmtDate = (t) => new Date(t * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
const num = (x, unit = "") => (x == null ? "–" : String(x) + unit);
// a session's length: "under 1" rather than "0" or "0.3" for one shorter than a minute
const minutesText = (x) => (x == null ? "–" : x < 1 ? "under 1" : String(Math.round(x)));

async function refreshJournal() {
  refreshLive();
  loadCueWindow();
  const problem = $("#journal-problem");
  let doc;
  try {
    const r = await fetch("/api/journal/clients");
    doc = await r.json();
    if (!r.ok) throw new Error(doc.error || "The journal could not be read.");
  } catch (e) {
    problem.textContent = e.message;
    problem.hidden = false;
    return;
  }
  problem.hidden = true;
  const clients = doc.clients || [];
  const table = $("#journal-clients");
  table.hidden = !clients.length;
  $("#journal-empty").hidden = clients.length > 0;
  const body = $("tbody", table);
  body.replaceChildren();
  for (const c of clients) {
    body.append(
      el(
        "tr",
        {},
        el("th", { scope: "row", text: c.name }),
        el("td", { text: String(c.sessions) }),
        el("td", { text: c.last ? fmtDate(c.last) : "–" }),
        el("td", { text: String(c.activations ?? "–") }),
        el("td", {}, el("button", { type: "button", text: "Show " + c.name + "'s figures", onclick: () => showReport(c.name) })),
      ),
    );
  }
}

function rangeText(range) {
  const parts = Object.entries(range || {}).map(([sensor, r]) => sensor + " " + r.p10 + "–" + r.p90 + " " + r.unit);
  return parts.length ? parts.join("; ") : "–";
}

async function showReport(name) {
  let doc;
  try {
    const r = await fetch("/api/journal/report?client=" + encodeURIComponent(name));
    doc = await r.json();
    if (!r.ok) throw new Error(doc.error || "No figures.");
  } catch (e) {
    say("Could not show " + name + "'s figures: " + e.message, true);
    return;
  }
  state.journalReport = doc;
  const box = $("#journal-report");
  box.hidden = false;
  $("#h-journal-report").textContent = name + ": " + doc.sessions.length + (doc.sessions.length === 1 ? " session" : " sessions");
  const caps = $("#journal-captions");
  caps.replaceChildren();
  for (const text of Object.values(doc.captions || {})) caps.append(el("li", { text }));
  const body = $("#journal-sessions tbody");
  body.replaceChildren();
  for (const s of doc.sessions) {
    const cues = s.cues ? s.responded + " of " + s.cues + (s.cue_band ? " (" + s.cue_band + ")" : "") : "no cues";
    body.append(
      el(
        "tr",
        {},
        el("th", { scope: "row", text: fmtDate(s.started) + (s.source === "standalone" ? " (without a computer)" : "") }),
        el("td", { text: minutesText(s.minutes) }),
        el("td", { text: num(s.per_minute) }),
        el("td", { text: cues }),
        el("td", { text: s.reaction_ms_median == null ? "–" : (s.reaction_ms_median / 1000).toFixed(1) + " s" }),
        el("td", { text: rangeText(s.range) }),
        el("td", { text: s.hold_ms_median == null ? "–" : (s.hold_ms_median / 1000).toFixed(1) + " s" }),
        el("td", { text: s.tempo_words || "–" }),
      ),
    );
  }
  showGoals(name);
  const a = $("#journal-download");
  a.href = "/api/journal/report.html?client=" + encodeURIComponent(name);
  a.setAttribute("download", name.replace(/[^A-Za-z0-9_-]+/g, "_") + "-report.html");
  a.textContent = "Download " + name + "'s report (HTML)";
}

// Goals, scored with Goal Attainment Scaling (-2..+2), for the client shown in the Journal view
const GAS = [
  [2, "+2 much more than expected"],
  [1, "+1 somewhat more than expected"],
  [0, "0 the expected level"],
  [-1, "-1 somewhat less than expected"],
  [-2, "-2 much less than expected"],
];
const gasText = (score) => (GAS.find(([s]) => s === score) || [0, String(score)])[1];
const fmtDay = (t) => new Date(t * 1000).toLocaleDateString(undefined, { dateStyle: "medium" });
const fmtClock = (t) => new Date(t * 1000).toLocaleTimeString(undefined, { timeStyle: "short" });
/** When a session began, as a score given at `t` names it: "15:20" that day, else the date too. */
const sessionAt = (started, t) => (fmtDay(started) === fmtDay(t) ? fmtClock(started) : fmtDate(started));
/** Which session a goal's score was given in, in words: " (session of 15:20)", or "". */
const sessionWords = (started, t) => (started == null ? "" : " (session of " + sessionAt(started, t) + ")");

async function showGoals(name) {
  state.goalsClient = name;
  let doc;
  try {
    const r = await fetch("/api/journal/goals?client=" + encodeURIComponent(name));
    doc = await r.json();
    if (!r.ok) throw new Error(doc.error || "The goals could not be read.");
  } catch (e) {
    say("Could not show " + name + "'s goals: " + e.message, true);
    return;
  }
  if (state.goalsClient !== name) return; // another client was chosen meanwhile
  $("#h-journal-goals").textContent = name + "'s goals";
  $("#goals-empty").hidden = doc.goals.length > 0;
  const list = $("#goals-list");
  list.replaceChildren();
  for (const g of doc.goals) list.append(goalItem(name, g));
}

function goalItem(name, goal) {
  const sid = "goal-" + goal.id + "-score";
  const hid = "goal-" + goal.id + "-text";
  const history = goal.scores.length
    ? el("ol", { class: "gas-history" }, ...goal.scores.map((s) => el("li", { text: fmtDay(s.t) + ": " + gasText(s.score) + sessionWords(s.session_started, s.t) })))
    : el("p", { class: "empty", text: "Not scored yet." });
  const last = goal.scores.length ? goal.scores[goal.scores.length - 1].score : 0; // the select starts there
  const select = el("select", { id: sid }, ...GAS.map(([score, text]) => el("option", { value: String(score), text, selected: score === last })));
  const form = el(
    "form",
    { class: "row gas-form" },
    el("label", { for: sid, text: "Score for today" }),
    select,
    el("button", { type: "submit", text: "Save score", "aria-describedby": hid }),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await postJson("/api/journal/goal/score", { client: name, goal: goal.id, score: Number(select.value) });
      const kept = r.session == null ? " It is not kept with a session (none today)." : " Kept with the session of " + sessionAt(r.session_started, Date.now() / 1000) + ".";
      say("Scored '" + goal.text + "': " + gasText(r.score) + "." + kept);
      await showGoals(name);
      document.getElementById(sid)?.focus();
    } catch (err) {
      say("Could not keep the score: " + err.message, true);
    }
  });
  return el("li", { class: "goal" }, el("p", { id: hid, class: "goal-text", text: goal.text }), history, form);
}

async function addGoal(ev) {
  ev.preventDefault();
  const input = $("#goal-text");
  const text = input.value.trim();
  const name = state.goalsClient;
  if (!name) return;
  if (!text) {
    say("Type the goal first, in a few words.", true);
    input.focus();
    return;
  }
  try {
    await postJson("/api/journal/goal", { client: name, text });
    input.value = "";
    say("Goal added for " + name + ".");
    await showGoals(name);
  } catch (e) {
    say("Could not add the goal: " + e.message, true);
  }
}

/** How long after a cue a press counts as the answer (GET/POST /api/journal/cue-window). */
async function loadCueWindow() {
  const input = $("#cue-window");
  const before = input.value;
  try {
    const r = await fetch("/api/journal/cue-window");
    const seconds = r.ok ? String((await r.json()).seconds) : null;
    // a number the therapist started typing meanwhile is theirs: not overwritten
    if (seconds !== null && input.value === before && document.activeElement !== input) input.value = seconds;
  } catch {
    /* the field keeps its value */
  }
  state.cueWindowShown = true;
}

async function setCueWindow(ev) {
  ev.preventDefault();
  const input = $("#cue-window");
  const seconds = Number(input.value);
  try {
    const r = await postJson("/api/journal/cue-window", { seconds });
    input.value = String(r.seconds);
    const kept = r.kept === false ? " Studio could not keep it for next time: it goes back to the earlier answer time when Studio starts again." : "";
    say("An answer now counts within " + r.seconds + (r.seconds === 1 ? " second" : " seconds") + " of a cue." + kept, r.kept === false);
  } catch (e) {
    say(e.message, true);
    input.focus();
  }
}

// ---------------------------------------------------------------------------------------------
// Check-up: `attune doctor`'s findings for one instrument, through the hub (GET /api/doctor)
const FINDING_WORDS = { problem: "Problem", info: "Note", ok: "OK" };
async function runDoctor() {
  const id = currentDevice("doctor");
  const list = $("#doctor-findings");
  const summary = $("#doctor-summary");
  if (!id) return;
  const inst = state.instruments.get(id) || {};
  const name = inst.title || inst.name || id;
  list.replaceChildren();
  summary.textContent = "Checking " + name + "…";
  let doc;
  try {
    const r = await fetch("/api/doctor?device=" + encodeURIComponent(id));
    doc = await r.json();
    if (!r.ok) throw new Error(doc.error || "Studio could not check it.");
  } catch (e) {
    summary.textContent = "Could not check " + name + ": " + e.message;
    return;
  }
  state.doctor = doc;
  const problems = doc.findings.filter((f) => f.level === "problem").length;
  summary.textContent =
    name + ": " + (problems ? problems + (problems === 1 ? " problem" : " problems") + " found, with what to do." : "no problems found.");
  for (const f of doc.findings) {
    list.append(
      el(
        "li",
        { class: "finding " + f.level },
        el("strong", { class: "finding-level", text: FINDING_WORDS[f.level] || f.level }),
        el("span", { text: " " + f.text }),
        f.fix ? el("p", { class: "fix", text: "What to do: " + f.fix }) : null,
      ),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Sound: volume, mute, timbre, and where the notes come from
function renderSoundSource() {
  const p = $("#sound-source");
  const bound = [...state.midiBound.entries()];
  if (!bound.length) p.textContent = "Notes come from Studio as the instruments report them.";
  else p.textContent = "Notes come straight from USB MIDI: " + bound.map(([id, name]) => (state.instruments.get(id)?.title || id) + " (" + name + ")").join(", ") + ". Other instruments' notes come from Studio.";
}

/** One MIDI message straight from an instrument's USB MIDI port: its sound, played here (the
 * hub's note messages for that instrument then only mark the meter, never sound twice). */
function onMidi(device, data) {
  const [s, d1, d2] = data;
  const kind = s & 0xf0;
  if (kind === 0x90 && d2 > 0) {
    state.midiNotes += 1;
    synth.noteOn(device, d1, d2);
  } else if (kind === 0x80 || kind === 0x90) synth.noteOff(device, d1);
  else if (kind === 0xb0 && (d1 === 120 || d1 === 123)) synth.releaseAll(device);
}

let midiAccess = null;
async function bindMidi() {
  const real = [...state.instruments.values()].filter((i) => !i.simulated && i.connected !== false);
  if (!real.length || !navigator.requestMIDIAccess) return;
  if (!midiAccess) {
    try {
      midiAccess = await navigator.requestMIDIAccess({ sysex: false });
      midiAccess.addEventListener("statechange", () => bindMidi());
    } catch {
      return; // refused or not offered: the hub's note messages are used
    }
  }
  const inputs = [...midiAccess.inputs.values()].filter((i) => /attune/i.test((i.manufacturer || "") + " " + (i.name || "")) || real.some((r) => (i.name || "").toLowerCase().includes((r.title || r.name || "-").toLowerCase())));
  state.midiBound.clear();
  for (const inst of real) {
    const want = (inst.title || inst.name || "").toLowerCase();
    let input = inputs.find((i) => (i.name || "").toLowerCase().includes(want));
    if (!input && real.length === 1 && inputs.length === 1) input = inputs[0];
    if (!input) continue;
    state.midiBound.set(inst.id, input.name);
    input.onmidimessage = (ev) => onMidi(inst.id, ev.data);
  }
  renderSoundSource();
}

function stopAll() {
  synth.panic();
  for (const key of state.pressed) {
    state.hushed.add(key);
    state.hushedNotes.delete(key); // (the panic's own note-offs must not end the new hush)
  }
  if (state.connected) {
    call({ type: "group", action: "panic" }).catch(() => {});
  }
  say("All sound stopped.");
}

function setMuted(m) {
  synth.setMuted(m);
  $("#mute").setAttribute("aria-pressed", String(m));
  $("#mute").textContent = m ? "Sound is muted" : "Mute";
}

async function groupApply() {
  const root = $("#group-root").value;
  const scale = $("#group-scale").value;
  const results = [];
  for (const [key, value] of [["root", root], ["scale", scale]]) {
    try {
      const r = await call({ type: "group", action: "set", key, value });
      for (const [dev, reply] of Object.entries((r.payload && r.payload.results) || {})) {
        if (String(reply).startsWith("ERR")) results.push((state.instruments.get(dev)?.title || dev) + ": " + String(reply).replace(/^ERR \S+ /, ""));
        else {
          storeValue(dev, key, value);
          markUnsaved(dev);
        }
      }
      if (!r.ok) results.push(r.message || "refused");
    } catch (e) {
      results.push(e.message);
    }
  }
  if (results.length) say("Not every instrument changed. " + results.join(" "), true);
  else say("Everyone now plays in " + root + " " + words(scale) + ".");
}

// ---------------------------------------------------------------------------------------------
// Wiring
function init() {
  for (const b of document.querySelectorAll(".views button")) b.addEventListener("click", () => openView(b.dataset.view));
  $("#stop-all").addEventListener("click", stopAll);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") stopAll();
    const typing = e.target.closest && e.target.closest("input, textarea, select, [contenteditable]");
    if ((e.key === "c" || e.key === "C") && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) cueAll();
  });
  setInterval(() => {
    if (currentView === "instruments" || currentView === "journal") refreshLive();
  }, 2000);
  // browsers start sound only after a gesture: any click or key wakes the synth
  const wake = () => {
    synth.start();
    setTimeout(() => ($("#sound-hint").hidden = synth.running), 50);
  };
  document.addEventListener("pointerdown", wake, true);
  document.addEventListener("keydown", wake, true);
  $("#sound-on").addEventListener("click", wake);
  $("#mute").addEventListener("click", () => setMuted(!synth.muted));
  const vol = $("#volume");
  vol.addEventListener("input", () => {
    synth.setVolume(Number(vol.value) / 100);
    $("#volume-out").textContent = vol.value + " %";
    vol.setAttribute("aria-valuetext", vol.value + " %");
    if (synth.muted && Number(vol.value) > 0) setMuted(false);
  });
  for (const [k, v] of Object.entries(TIMBRES)) $("#timbre").append(el("option", { value: k, text: v }));
  $("#timbre").addEventListener("change", () => (synth.timbre = $("#timbre").value));
  $("#timing").addEventListener("change", () => synth.setFastest($("#timing").value === "fast"));
  $("#try-sound").addEventListener("click", () => {
    synth.noteOn("test", 67, 90);
    setTimeout(() => synth.noteOff("test", 67), 600);
  });
  $("#settings-device").addEventListener("change", renderSettings);
  $("#settings-advanced").addEventListener("change", renderSettings);
  $("#settings-undo").addEventListener("click", undoLast);
  $("#settings-compare").addEventListener("click", compareWithSaved);
  $("#settings-reset").addEventListener("click", resetSettings);
  $("#cal-device").addEventListener("change", fillCalSensors);
  $("#cal-start").addEventListener("click", startCalibration);
  $("#cal-apply").addEventListener("click", applyCalibration);
  $("#cal-cancel").addEventListener("click", cancelCalibration);
  $("#profiles-device").addEventListener("change", refreshProfiles);
  $("#doctor-run").addEventListener("click", runDoctor);
  $("#doctor-device").addEventListener("change", () => {
    $("#doctor-findings").replaceChildren();
    $("#doctor-summary").textContent = "";
  });
  $("#save-form").addEventListener("submit", saveProfile);
  $("#goal-form").addEventListener("submit", addGoal);
  $("#cue-window-form").addEventListener("submit", setCueWindow);
  $("#import-button").addEventListener("click", () => $("#import-file").click());
  $("#import-file").addEventListener("change", (e) => {
    const f = e.target.files && e.target.files[0];
    e.target.value = "";
    if (f) importProfile(f);
  });
  for (const id of ["group-root", "group-scale"]) $("#" + id).addEventListener("change", (e) => (e.target.dataset.touched = "1"));
  $("#group-apply").addEventListener("click", groupApply);
  window.addEventListener("hashchange", () => openView(location.hash.slice(1)));
  openView(location.hash.slice(1) || "instruments");
  synth.start();
  setTimeout(() => ($("#sound-hint").hidden = synth.running), 300);
  connect();
}

init();
