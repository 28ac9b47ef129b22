// A small Web Audio synth: the instrument's notes through the computer's speakers, no DAW needed.
// Usage: import { Synth } from "./synth.js"; const s = new Synth(); s.noteOn("k", 60, 90); s.noteOff("k", 60);
// Notes start the moment they arrive (scheduled at the context's current time, never queued
// behind a frame), and every voice can be silenced at once (stop all sound).

export const TIMBRES = {
  soft: "Soft bell",
  warm: "Warm organ",
  flute: "Flute",
  pad: "Gentle pad",
};

const RELEASE_S = 0.25; // a gentle end, so a note never clicks off
const PANIC_S = 0.02; // "Stop all sound" is fast but still click-free

export class Synth {
  constructor() {
    this.ctx = null;
    this.master = null;
    this.voices = new Map(); // "key:note" -> {osc: [...], gain}
    this.volume = 0.7;
    this.muted = false;
    this.timbre = "soft";
    // 0 asks for the smallest buffer the sound card allows (Chromium: ~3 + 8 ms, against
    // ~10 + 32 ms for "interactive"); "balanced" is the way out if a slow computer crackles
    this.latencyHint = 0;
    // test and benchmark hooks (window.attuneSound): what was played last, how late it starts
    this.lastNote = null;
    this.lastStart = null;
    this.played = 0;
  }

  /** Make (or wake) the audio context; browsers allow it only after a click or key press. */
  start() {
    if (!this.ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return false;
      try {
        this.ctx = new Ctx({ latencyHint: this.latencyHint });
      } catch {
        this.ctx = new Ctx({ latencyHint: "interactive" });
      }
      this.master = this.ctx.createGain();
      this.master.connect(this.ctx.destination);
      this.applyVolume();
    }
    if (this.ctx.state === "suspended") this.ctx.resume();
    return true;
  }

  /** Fastest (true) or steadier sound; a new audio context, so every note stops first. */
  setFastest(fast) {
    this.latencyHint = fast ? 0 : "balanced";
    if (!this.ctx) return;
    this.panic();
    const old = this.ctx;
    this.ctx = null;
    old.close();
    this.start();
  }

  get running() {
    return !!this.ctx && this.ctx.state === "running";
  }

  setVolume(v) {
    this.volume = Math.max(0, Math.min(1, v));
    this.applyVolume();
  }

  setMuted(m) {
    this.muted = !!m;
    this.applyVolume();
  }

  applyVolume() {
    if (!this.master) return;
    const g = this.muted ? 0 : this.volume * this.volume; // a perceptual taper
    this.master.gain.setTargetAtTime(g, this.ctx.currentTime, 0.01);
  }

  /** The output latency the browser reports, in seconds (0 when it does not say). */
  outputLatency() {
    if (!this.ctx) return 0;
    return (this.ctx.outputLatency || 0) + (this.ctx.baseLatency || 0);
  }

  noteOn(key, note, velocity) {
    const id = key + ":" + note;
    this.lastNote = { key, note, velocity, at: performance.now(), held: true };
    if (!this.start()) return null;
    this.release(id, 0.03); // the same note again: end the old voice first
    const ctx = this.ctx;
    const when = ctx.currentTime; // at once: no look-ahead, no frame wait
    const freq = 440 * Math.pow(2, (note - 69) / 12);
    const peak = 0.08 + 0.22 * (Math.max(1, Math.min(127, velocity)) / 127);
    const gain = ctx.createGain();
    gain.gain.setValueAtTime(0, when);
    const oscs = [];
    const t = this.timbre;
    let attack = 0.008;
    let sustain = 0.6;
    let out = gain;
    // sine partials, each [frequency multiple, level], summed into the voice's gain
    const sines = (partials) => {
      for (const [mult, level] of partials) {
        const o = ctx.createOscillator();
        o.type = "sine";
        o.frequency.value = freq * mult;
        const g = ctx.createGain();
        g.gain.value = level;
        o.connect(g).connect(gain);
        oscs.push(o);
      }
    };
    if (t === "pad") {
      attack = 0.12;
      sustain = 0.9;
      const lp = ctx.createBiquadFilter();
      lp.type = "lowpass";
      lp.frequency.value = 1200;
      lp.connect(gain);
      for (const detune of [-7, 7]) {
        const o = ctx.createOscillator();
        o.type = "sawtooth";
        o.frequency.value = freq;
        o.detune.value = detune;
        o.connect(lp);
        oscs.push(o);
      }
    } else if (t === "warm") {
      sustain = 0.8;
      sines([[1, 1], [2, 0.35], [3, 0.15]]);
    } else if (t === "flute") {
      attack = 0.04;
      sustain = 0.85;
      const o = ctx.createOscillator();
      o.type = "triangle";
      o.frequency.value = freq;
      const lp = ctx.createBiquadFilter();
      lp.type = "lowpass";
      lp.frequency.value = freq * 4;
      o.connect(lp).connect(gain);
      oscs.push(o);
    } else {
      // soft bell: a sine and a quiet octave that fade while held
      sustain = 0.35;
      sines([[1, 1], [2, 0.25]]);
    }
    gain.gain.linearRampToValueAtTime(peak, when + attack);
    gain.gain.setTargetAtTime(peak * sustain, when + attack, 0.4);
    out.connect(this.master);
    for (const o of oscs) o.start(when);
    this.voices.set(id, { oscs, gain });
    this.played += 1;
    this.lastStart = {
      scheduledMs: (when - ctx.currentTime) * 1000,
      outputLatencyMs: this.outputLatency() * 1000,
    };
    return this.lastStart;
  }

  noteOff(key, note) {
    if (this.lastNote && this.lastNote.key === key && this.lastNote.note === note) {
      this.lastNote.held = false;
    }
    this.release(key + ":" + note, RELEASE_S);
  }

  release(id, seconds) {
    const v = this.voices.get(id);
    if (!v) return;
    this.voices.delete(id);
    const now = this.ctx.currentTime;
    v.gain.gain.cancelScheduledValues(now);
    v.gain.gain.setTargetAtTime(0, now, seconds / 4);
    for (const o of v.oscs) o.stop(now + seconds + 0.05);
  }

  /** Every voice off now (the "Stop all sound" button and the Escape key). */
  panic() {
    for (const id of [...this.voices.keys()]) this.release(id, PANIC_S);
    if (this.lastNote) this.lastNote.held = false;
  }

  /** Every voice of one instrument off (its own panic, or it went away). */
  releaseAll(keyPrefix) {
    for (const id of [...this.voices.keys()]) {
      if (id.startsWith(keyPrefix + ":")) this.release(id, RELEASE_S);
    }
  }

  get held() {
    return this.voices.size;
  }
}
