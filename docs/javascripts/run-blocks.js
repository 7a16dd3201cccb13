// The Run button under each python block: the page's blocks run in the
// reader's browser, in order, each once, up to the one whose button was
// pressed. The first press starts one Python for the page in a Web Worker
// (docs/run-in-browser/worker.mjs); nothing is fetched before it. Later
// presses go on from where the page got to; Reset starts over; leaving the
// page ends the worker. Each block's result is also announced to the page as
// a "run-in-browser:block" event, which the browser tests read.
(() => {
  let session = null;

  function setUp() {
    stop();
    const page = document.querySelector(".run-in-browser");
    if (!page) return;
    const bars = Array.from(document.querySelectorAll(".run-block"), (marker, index) =>
      bar(marker, index),
    );
    const note = document.createElement("p");
    note.className = "run-in-browser-note";
    note.textContent =
      "Run, under each block, runs this page in your browser up to that block, on " +
      "SQLite: a Python compiled to WebAssembly, fetched from this site on the first " +
      "Run (about 9 MB), which sends nothing anywhere. For PostgreSQL or MariaDB, " +
      "run the script above against your own server.";
    document.querySelectorAll(".run-in-browser-note").forEach((old) => old.remove());
    const facts = document.querySelector(".page-facts");
    if (facts) facts.append(note);
    page.runInBrowser = { bars, note, worker: page.dataset.worker, blocks: page.dataset.page };
  }

  function bar(marker, index) {
    marker.replaceChildren();
    const run = button("Run", "Run this page's blocks up to this one, in your browser");
    const reset = button("Reset", "Start this page's run over, with a fresh Python");
    const status = document.createElement("span");
    status.className = "run-status";
    status.setAttribute("aria-live", "polite");
    const output = document.createElement("div");
    reset.hidden = true;
    run.addEventListener("click", () => runTo(index));
    reset.addEventListener("click", () => {
      stop();
      setUp();
    });
    marker.append(run, reset, status, output);
    return { marker, run, reset, status, output };
  }

  function button(text, label) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.title = label;
    return element;
  }

  function stop() {
    if (session) session.worker.terminate();
    session = null;
  }

  function runTo(index) {
    const page = document.querySelector(".run-in-browser").runInBrowser;
    if (!session) {
      const worker = new Worker(new URL(page.worker, document.baseURI), { type: "module" });
      session = { worker, page, next: 0, target: -1, ready: false, busy: false, stopped: false };
      worker.onmessage = ({ data }) => received(data);
      worker.onerror = (event) => failed(event.message || "the worker could not start");
      worker.postMessage({ type: "start", page: new URL(page.blocks, document.baseURI).href });
      page.bars.forEach((item) => (item.reset.hidden = false));
    }
    if (session.stopped || index <= session.target) return;
    for (let i = session.target + 1; i <= index; i++) {
      const item = page.bars[i];
      item.run.disabled = true;
      item.status.textContent = session.ready
        ? "Waiting for the blocks above"
        : "Starting Python in your browser";
    }
    session.target = index;
    pump();
  }

  function pump() {
    if (!session.ready || session.busy || session.next > session.target) return;
    session.busy = true;
    session.page.bars[session.next].status.textContent = "Running";
    session.worker.postMessage({ type: "run", index: session.next });
  }

  function received(data) {
    if (data.type === "ready") {
      session.ready = true;
      session.page.note.textContent += ` Here: Python ${data.python}, SQLite ${data.sqlite}.`;
      announce("ready", data);
      pump();
    } else if (data.type === "block") {
      show(session.page.bars[data.index], data);
      announce("block", data);
      session.busy = false;
      session.next = data.index + 1;
      if (data.error) halt(data.index, `the error under the block at line ${data.line}`);
      else pump();
    } else if (data.type === "failed") {
      failed(data.message);
    }
  }

  function failed(message) {
    const { page, next } = session;
    page.bars[next].output.replaceChildren(box("Python could not start in this browser", message));
    page.bars[next].status.textContent = "";
    page.bars[next].run.disabled = true;
    announce("failed", { message });
    halt(next, "this error");
  }

  // After an error, the blocks below say where the run stopped; Reset starts over.
  function halt(index, where) {
    session.stopped = true;
    session.page.bars.forEach((item, i) => {
      if (i <= index) return;
      item.run.disabled = true;
      item.status.textContent = `Not run: the run stopped at ${where}. Reset starts over.`;
    });
  }

  function show(item, result) {
    item.status.textContent = "";
    let text;
    if (result.examples) {
      text = result.examples
        .map(({ source, printed }) => prompted(source) + printed)
        .join("");
    } else {
      text = result.printed;
    }
    text += result.stderr;
    let title = text ? "Printed in your browser" : "Ran in your browser, and printed nothing";
    if (result.error) {
      title = "Stopped here, with this error, in your browser";
      text += result.error;
    }
    item.output.replaceChildren(box(title, text));
  }

  function prompted(source) {
    return source
      .replace(/\n$/, "")
      .split("\n")
      .map((line, i) => (i === 0 ? ">>> " : "... ") + line)
      .join("\n")
      .concat("\n");
  }

  // The look of the page's own recorded output (.block-output).
  function box(title, text) {
    const element = document.createElement("div");
    element.className = "block-output run-output";
    const label = document.createElement("span");
    label.textContent = title;
    element.append(label);
    if (text) {
      const pre = document.createElement("pre");
      pre.textContent = text.replace(/\n$/, "");
      element.append(pre);
    }
    return element;
  }

  function announce(kind, detail) {
    document.dispatchEvent(new CustomEvent(`run-in-browser:${kind}`, { detail }));
  }

  // The theme's instant navigation swaps pages without loading them: document$
  // says when. Without it, each page is a load of its own.
  if (typeof document$ !== "undefined") document$.subscribe(setUp);
  else setUp();
  window.addEventListener("pagehide", stop);
})();
