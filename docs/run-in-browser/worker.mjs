// One page's Python, in a Web Worker of the reader's browser: started by the
// page's first Run (docs/javascripts/run-blocks.js), ended when the reader
// leaves the page or presses Reset. Everything it loads comes from this folder
// of the site, which tests/harness/run_in_browser.py fills at build time; it
// asks no other host for anything, nor Pyodide's lock file or package index.
import { loadPyodide } from "./pyodide/pyodide.mjs";
import { scrypt } from "./noble-hashes/scrypt.js";

const here = new URL(".", import.meta.url);
let pyodide;
let runner; // the Python module run_blocks, set up for the page
let blocks; // the page's blocks that run here, in order
let queue = Promise.resolve();

self.onmessage = ({ data }) => {
  queue = queue
    .then(() => (data.type === "start" ? start(data.page) : run(data.index)))
    .catch((error) => postMessage({ type: "failed", message: String(error.message || error) }));
};

async function fetchOk(path) {
  const response = await fetch(new URL(path, here));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response;
}

// A wheel, refused unless its SHA-256 is the one uv.lock pins.
async function verifiedWheel({ file, sha256 }) {
  const bytes = await (await fetchOk(file)).arrayBuffer();
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== sha256) throw new Error(`${file} is not the wheel uv.lock pins (sha256 ${hex})`);
  return bytes;
}

async function start(pagePath) {
  const runtime = await (await fetchOk("runtime.json")).json();
  let source, pageData, wheels;
  [pyodide, wheels, source, pageData] = await Promise.all([
    loadPyodide({
      indexURL: new URL("pyodide/", here).href,
      // Given here, so that Pyodide fetches no lock file; it loads no package.
      lockFileContents: runtime.pyodideLock,
      env: { DATABASE_URL: runtime.databaseUrl },
    }),
    Promise.all(runtime.wheels.map(verifiedWheel)),
    fetchOk("run_blocks.py").then((response) => response.text()),
    fetchOk(pagePath).then((response) => response.json()),
  ]);
  const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
  for (const wheel of wheels) pyodide.unpackArchive(wheel, "wheel", { extractDir: sitePackages });
  pyodide.FS.mkdirTree("/run-in-browser");
  pyodide.FS.writeFile("/run-in-browser/run_blocks.py", source);
  pyodide.runPython("import sys; sys.path.insert(0, '/run-in-browser')");
  runner = pyodide.pyimport("run_blocks");
  const scryptJs = (password, salt, N, r, p, dkLen, maxmem) =>
    scrypt(password, salt, { N, r, p, dkLen, maxmem });
  const versions = runner.start(pageData.page, scryptJs).toJs({ dict_converter: Object.fromEntries });
  blocks = pageData.blocks;
  self.pyodide = pyodide; // for the browser's console, and the browser tests
  postMessage({ type: "ready", ...versions });
}

function run(index) {
  const block = pyodide.toPy(blocks[index]);
  const result = runner.current.run(block);
  postMessage({ type: "block", index, ...result.toJs({ dict_converter: Object.fromEntries }) });
  result.destroy();
  block.destroy();
}
