// Choosing a database in one SQL box chooses it in every box of the page, so a
// reader following PostgreSQL sees PostgreSQL's SQL all the way down. A picture's
// tab may stand for several databases that agree ("sqlite postgresql"): choosing
// it chooses the first of them, and choosing any of them elsewhere chooses it.
//
// A SQL box keeps its tabs in a <template> until it is first opened, so that a
// long chapter loads without laying out the tabs of every closed box: they are
// drawn here, on the database chosen so far, when the box opens or the page is
// printed.
(() => {
  let chosen = null;

  const choose = (root, database) => {
    root.querySelectorAll(`.sql-tabs > input[data-database~="${database}"]`).forEach((input) => {
      input.checked = true;
    });
  };

  const draw = (box) => {
    const template = box.querySelector(":scope > template");
    if (!template) return;
    const tabs = template.content;
    if (chosen) choose(tabs, chosen);
    template.replaceWith(tabs);
  };

  document.addEventListener("change", (event) => {
    const input = event.target;
    if (!input.matches('.sql-tabs > input[type="radio"]')) return;
    chosen = input.dataset.database.split(" ")[0];
    choose(document, chosen);
  });
  // "toggle" does not bubble; it is caught on its way down.
  document.addEventListener(
    "toggle",
    (event) => {
      if (event.target.matches?.("details.sql-box") && event.target.open) draw(event.target);
    },
    true,
  );
  addEventListener("beforeprint", () => document.querySelectorAll("details.sql-box").forEach(draw));
})();
