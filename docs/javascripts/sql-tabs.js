// Choosing a database in one SQL box chooses it in every box of the page, so a
// reader following PostgreSQL sees PostgreSQL's SQL all the way down.
document.addEventListener("change", (event) => {
  const chosen = event.target;
  if (!chosen.matches('.sql-tabs > input[type="radio"]')) return;
  const database = chosen.dataset.database;
  document.querySelectorAll(`.sql-tabs > input[data-database="${database}"]`).forEach((input) => {
    input.checked = true;
  });
});
