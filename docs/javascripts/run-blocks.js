// The Run button under each python block: the page's blocks run in the
// reader's browser, in order, each once, up to the one whose button was
// pressed. The first press starts one Python for the page in a Web Worker
// (docs/run-in-browser/worker.mjs); nothing is fetched before it. Later
// presses go on from where the page got to; Reset starts over; leaving the
// page ends the worker. Each block's result is also announced to the page as
// a "run-in-browser:block" event, which the browser tests read.
(() => {
  // The run of the page, kept apart from the page's elements: the theme's
  // instant navigation redraws the page for a link to one of its own sections.
  let run = null;
  let view = null; // the Run buttons of the page as drawn now

  // The Run buttons are in the page from the start (tests/harness/run_in_browser.py);
  // each block's Reset button, status and output are drawn once a run needs them,
  // so that nothing is drawn as the page loads.
  function setUp() {
    const marker = document.querySelector(".run-in-browser");
    if (run && (!marker || run.path !== location.pathname)) stop();
    view = marker ? draw(marker) : null;
    if (view && run) view.bars.forEach((_, index) => redraw(index));
  }

  function draw(marker) {
    const bars = Array.from(document.querySelectorAll(".run-block"), (element) => ({
      element,
      runButton: element.querySelector("button"),
    }));
    const note = marker.querySelector(".run-versions") || document.createElement("span");
    note.className = "run-versions";
    marker.lastElementChild.append(note);
    return { bars, note, worker: marker.dataset.worker, blocks: marker.dataset.page };
  }

  document.addEventListener("click", (event) => {
    if (!view || !(event.target instanceof Element)) return;
    const pressed = event.target.closest(".run-block > button");
    const index = view.bars.findIndex((bar) => bar.runButton === pressed);
    if (index >= 0) runTo(index);
  });

  // A block's Reset button, status and output, drawn the first time a run needs them.
  function drawn(bar) {
    if (bar.reset) return bar;
    bar.reset = button("Reset", "Start this page's run over, with a fresh Python");
    bar.reset.addEventListener("click", () => {
      stop();
      view.bars.forEach((_, index) => redraw(index));
    });
    bar.status = document.createElement("span");
    bar.status.className = "run-status";
    bar.status.setAttribute("aria-live", "polite");
    bar.output = document.createElement("div");
    bar.element.append(bar.reset, bar.status, bar.output);
    return bar;
  }

  function button(text, label) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.title = label;
    return element;
  }

  function stop() {
    if (run) run.worker.terminate();
    run = null;
  }

  function runTo(index) {
    if (!run) {
      const worker = new Worker(new URL(view.worker, document.baseURI), { type: "module" });
      run = { worker, path: location.pathname, results: [], target: -1, busy: false };
      worker.onmessage = ({ data }) => received(data);
      worker.onerror = (event) => failed(event.message || "the worker could not start");
      worker.postMessage({ type: "start", page: new URL(view.blocks, document.baseURI).href });
    }
    if (run.stopped || index <= run.target) return;
    run.target = index;
    pump();
    view.bars.forEach((_, i) => redraw(i));
  }

  function pump() {
    const next = run.results.length;
    if (!run.versions || run.busy || run.stopped || next > run.target) return;
    run.busy = true;
    run.worker.postMessage({ type: "run", index: next });
  }

  function received(data) {
    if (data.type === "ready") {
      run.versions = data;
      announce("ready", data);
    } else if (data.type === "block") {
      run.results[data.index] = data;
      run.busy = false;
      if (data.error) run.stopped = `the error under the block at line ${data.line}`;
      announce("block", data);
    } else if (data.type === "failed") {
      return failed(data.message);
    }
    pump();
    view.bars.forEach((_, i) => redraw(i));
  }

  function failed(message) {
    run.failure = message;
    run.stopped = "this error";
    announce("failed", { message });
    view.bars.forEach((_, i) => redraw(i));
  }

  // One block's button, status and output, from the run as it stands.
  function redraw(index) {
    if (index === 0) view.note.textContent = versions();
    if (!run && !view.bars[index].reset) return; // nothing drawn yet, nothing to take back
    const bar = drawn(view.bars[index]);
    const result = run && run.results[index];
    const failedHere = Boolean(run && run.failure && index === run.results.length);
    bar.reset.hidden = !run;
    bar.runButton.disabled = Boolean(run && (index <= run.target || run.stopped));
    bar.status.textContent = result || failedHere ? "" : status(index);
    const output = result || (failedHere ? run.failure : null);
    if (bar.drawn !== output) {
      bar.drawn = output;
      if (result) bar.output.replaceChildren(shown(result));
      else if (failedHere) bar.output.replaceChildren(box("Python could not start here", output));
      else bar.output.replaceChildren();
    }
  }

  function status(index) {
    if (!run) return "";
    if (run.stopped) return `Not run: the run stopped at ${run.stopped}. Reset starts over.`;
    if (index > run.target) return "";
    if (!run.versions) return "Starting Python in your browser";
    return index === run.results.length ? "Running" : "Waiting for the blocks above";
  }

  // Said after the line under the title (tests/harness/run_in_browser.py) once Python runs.
  function versions() {
    if (!run || !run.versions) return "";
    return ` Here: Python ${run.versions.python}, SQLite ${run.versions.sqlite}.`;
  }

  function shown(result) {
    let text = result.examples
      ? result.examples.map(({ source, printed }) => prompted(source) + printed).join("")
      : result.printed;
    text += result.stderr;
    let title = text ? "Printed in your browser" : "Ran in your browser, and printed nothing";
    if (result.error) {
      title = "Stopped here, with this error, in your browser";
      text += result.error;
    }
    return box(title, text);
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
