// One sensor's live meter: the level, the trigger and release points, the noise band, notes.
// Usage: const m = makeMeter("pad"); parent.append(m.root); m.update({level, trigger, release, noise, pressed});
// Drawn with a few absolutely placed boxes whose transform/left change per frame (no layout
// work, no canvas), updated the moment a frame arrives rather than at the next repaint tick.

export const LEVEL_MAX = 16383;

const reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

function pct(level) {
  const v = Number(level);
  if (!Number.isFinite(v)) return 0;
  return Math.max(0, Math.min(100, (v / LEVEL_MAX) * 100));
}

export function makeMeter(sensor) {
  const root = document.createElement("div");
  root.className = "meter";
  root.setAttribute("role", "meter");
  root.setAttribute("aria-label", sensor);
  root.setAttribute("aria-valuemin", "0");
  root.setAttribute("aria-valuemax", "100");
  root.setAttribute("aria-valuenow", "0");
  root.setAttribute("aria-valuetext", "at rest");
  const noise = document.createElement("div");
  noise.className = "noise";
  const fill = document.createElement("div");
  fill.className = "fill";
  const trigger = document.createElement("div");
  trigger.className = "line trigger";
  const release = document.createElement("div");
  release.className = "line release";
  const flash = document.createElement("div");
  flash.className = "flash";
  release.hidden = true;
  noise.hidden = true;
  root.append(noise, fill, release, trigger, flash);
  let shown = -1;
  let flashTimer = 0;
  const m = {
    root,
    level: 0,
    trigger: null,
    changedAt: 0,
    update(ch) {
      const p = pct(ch.level);
      fill.style.transform = "scaleX(" + (p / 100).toFixed(4) + ")";
      if (ch.trigger != null) trigger.style.left = pct(ch.trigger) + "%";
      // release and noise are null from firmware that does not report them: not drawn
      release.hidden = ch.release == null;
      if (ch.release != null) release.style.left = pct(ch.release) + "%";
      noise.hidden = ch.noise == null;
      if (ch.noise != null) noise.style.width = pct(ch.noise) + "%";
      if (!m.extras && (ch.release != null || ch.noise != null)) {
        m.extras = true;
        const box = root.closest(".card, .cal");
        if (box) box.classList.add("has-extras");
      }
      root.classList.toggle("pressed", !!ch.pressed);
      if (ch.level !== m.level) m.changedAt = performance.now();
      m.level = ch.level;
      m.trigger = ch.trigger;
      const rounded = Math.round(p);
      if (rounded !== shown) {
        shown = rounded;
        root.setAttribute("aria-valuenow", String(rounded));
        root.setAttribute("aria-valuetext", ch.pressed ? rounded + " %, playing" : rounded + " %");
      }
    },
    note() {
      if (reduceMotion.matches) return;
      root.classList.add("note");
      clearTimeout(flashTimer);
      flashTimer = setTimeout(() => root.classList.remove("note"), 120);
    },
  };
  return m;
}

export function legend() {
  const ul = document.createElement("ul");
  ul.className = "legend";
  for (const [cls, words] of [
    ["k-level", "movement"],
    ["k-trigger", "plays from here"],
    ["k-release", "stops below here"],
    ["k-noise", "sensor noise"],
  ]) {
    const li = document.createElement("li");
    const key = document.createElement("span");
    key.className = "key " + cls;
    key.setAttribute("aria-hidden", "true");
    if (cls === "k-release" || cls === "k-noise") li.className = "extra";
    li.append(key, words);
    ul.append(li);
  }
  return ul;
}
