// A code block too wide for the screen scrolls sideways; such a block can take
// the keyboard's focus, so that the arrow keys scroll it too. The theme's script
// does this for the code blocks it draws; the build draws this site's
// (tests/harness/site_markdown.py). A block is measured once it comes near the
// screen, not all at once as the page loads, and the blocks near the screen
// again when the window's size changes. Tabbing reaches a block's copy button
// first, which brings the block near.
(() => {
  const near = new Set();

  function measure(blocks) {
    const wide = blocks.map((code) => code.scrollWidth > code.clientWidth);
    blocks.forEach((code, index) => {
      if (wide[index]) code.setAttribute("tabindex", "0");
      else code.removeAttribute("tabindex");
    });
  }

  const observer = new IntersectionObserver(
    (entries) => {
      for (const { target, isIntersecting } of entries) {
        if (isIntersecting) near.add(target);
        else near.delete(target);
      }
      measure(entries.filter((entry) => entry.isIntersecting).map((entry) => entry.target));
    },
    { rootMargin: "50% 0px" },
  );

  function setUp() {
    observer.disconnect();
    near.clear();
    document.querySelectorAll(".code-text > code").forEach((code) => observer.observe(code));
  }

  // The theme's instant navigation swaps pages without loading them: document$ says when.
  if (typeof document$ !== "undefined") document$.subscribe(setUp);
  else setUp();
  addEventListener("resize", () => measure(Array.from(near)));
})();
