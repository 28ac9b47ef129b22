// Run one Python script inside the official MicroPython VM (WebAssembly, from npm).
//
// Usage: node tests/micropython/run.mjs SCRIPT.py [--path DIR ...] [--heap BYTES]
//
// Each --path DIR is copied (recursively) into the VM's filesystem as /<basename of DIR> and put
// on sys.path in the order given, ahead of the VM's own entries: pass firmware/ first, as on the
// Pico where / (the firmware root) is searched first. The script's own folder comes after them,
// so a check script can `import checks`. The script runs as __main__; its output is streamed
// line by line. A Python exception ends the run with its traceback on stderr and exit code 1
// (SystemExit(n) exits with n); a problem of the runner itself exits with 2.
// One VM boot per script (about 30 ms).

import { readFileSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";

const USAGE = "usage: node run.mjs SCRIPT.py [--path DIR ...] [--heap BYTES]";
// The VM's heap grows on demand; this is only its starting size (about a Pico's free heap).
const DEFAULT_HEAP = 256 * 1024;
const SKIP = new Set(["__pycache__", "node_modules", ".git", ".pytest_cache", ".ruff_cache"]);

function fail(message) {
  process.stderr.write(message + "\n");
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { script: null, paths: [], heap: DEFAULT_HEAP };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--path" || a === "--heap") {
      if (i + 1 >= argv.length) fail(a + " needs a value\n" + USAGE);
      const v = argv[++i];
      if (a === "--path") opts.paths.push(resolve(v));
      else {
        opts.heap = Number.parseInt(v, 10);
        if (!(opts.heap > 0)) fail("--heap wants a number of bytes, not " + v);
      }
    } else if (a === "-h" || a === "--help") {
      process.stdout.write(USAGE + "\n");
      process.exit(0);
    } else if (a.startsWith("--")) {
      fail("unknown option " + a + "\n" + USAGE);
    } else if (opts.script === null) {
      opts.script = resolve(a);
    } else {
      fail("only one script per run\n" + USAGE);
    }
  }
  if (opts.script === null) fail(USAGE);
  return opts;
}

// The npm package is installed in the repository root; resolve it from there so this file works
// from any current directory.
async function importVM() {
  const here = dirname(fileURLToPath(import.meta.url));
  const require = createRequire(join(here, "..", "..", "package.json"));
  let entry;
  try {
    entry = require.resolve("@micropython/micropython-webassembly-pyscript");
  } catch {
    fail("The MicroPython VM is not installed: run `npm install` in the repository root.");
  }
  return import(pathToFileURL(entry).href);
}

function mkdirs(FS, path) {
  let at = "";
  for (const part of path.split("/").filter(Boolean)) {
    at += "/" + part;
    try {
      FS.mkdir(at);
    } catch {
      // already there
    }
  }
}

function copyTree(FS, hostDir, vmDir) {
  mkdirs(FS, vmDir);
  for (const name of readdirSync(hostDir)) {
    if (SKIP.has(name) || name.startsWith(".")) continue;
    const host = join(hostDir, name);
    const vm = vmDir + "/" + name;
    if (statSync(host).isDirectory()) copyTree(FS, host, vm);
    else FS.writeFile(vm, readFileSync(host));
  }
}

const opts = parseArgs(process.argv.slice(2));
try {
  readFileSync(opts.script);
} catch (e) {
  fail("cannot read " + opts.script + ": " + e.message);
}
for (const p of opts.paths) {
  try {
    if (!statSync(p).isDirectory()) fail("--path " + p + " is not a folder");
  } catch (e) {
    fail("--path " + p + ": " + e.message);
  }
}

const { loadMicroPython } = await importVM();
const write = (stream) => (line) => stream.write(line + "\n");
const mp = await loadMicroPython({
  heapsize: opts.heap,
  stdout: write(process.stdout),
  stderr: write(process.stderr),
});

// Mount points: /<basename>, made unique if two folders share a name.
const mounts = [];
for (const p of [...opts.paths, dirname(opts.script)]) {
  let at = "/" + (basename(p) || "root");
  while (mounts.includes(at)) at += "_";
  copyTree(mp.FS, p, at);
  mounts.push(at);
}
const scriptInVM = mounts[mounts.length - 1] + "/" + basename(opts.script);

function flush() {
  // The VM buffers output by line; give back a last line that has no newline.
  const m = mp._module;
  for (const [buf, stream] of [["_stdoutBuffer", process.stdout], ["_stderrBuffer", process.stderr]]) {
    if (m && m[buf] && m[buf].length) {
      stream.write(new TextDecoder().decode(new Uint8Array(m[buf])));
      m[buf] = [];
    }
  }
}

let code = 0;
try {
  mp.runPython("import sys\nsys.path[:0] = " + JSON.stringify(mounts) + "\ndel sys\n");
  // Compile under the script's own name, so tracebacks (also those a check prints) name it.
  mp.globals.set("__file__", scriptInVM);
  mp.runPython("exec(compile(open(__file__).read(), __file__, 'exec'))");
} catch (e) {
  flush();
  if (e && e.constructor && e.constructor.name === "PythonError") {
    // Drop the frame of the one-line launcher above; the script's own frames follow it.
    const text = String(e.message).replace(/ {2}File "<stdin>", line 1, in <module>\n/, "");
    if (e.type === "SystemExit") {
      // sys.exit(): no argument is 0, an int is the exit code, anything else is printed.
      const last = text.trimEnd().split("\n").pop();
      const arg = last.startsWith("SystemExit: ") ? last.slice(12) : "";
      if (arg === "" || arg === "None") code = 0;
      else if (/^-?\d+$/.test(arg)) code = Number(arg);
      else {
        process.stderr.write(arg + "\n");
        code = 1;
      }
    } else {
      process.stderr.write(text);
      code = 1;
    }
  } else {
    process.stderr.write("MicroPython VM runner error: " + (e && e.stack ? e.stack : e) + "\n");
    code = 2;
  }
}
flush();
process.exitCode = code;
