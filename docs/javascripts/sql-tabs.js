// Choosing a database in one SQL box chooses it in every box of the page, so a
// reader following PostgreSQL sees PostgreSQL's SQL all the way down. A picture's
// tab may stand for several databases that agree ("sqlite postgresql"): choosing
// it chooses the first of them, and choosing any of them elsewhere chooses it.
document.addEventListener("change", (event) => {
  const chosen = event.target;
  if (!chosen.matches('.sql-tabs > input[type="radio"]')) return;
  const database = chosen.dataset.database.split(" ")[0];
  document.querySelectorAll(`.sql-tabs > input[data-database~="${database}"]`).forEach((input) => {
    input.checked = true;
  });
});
