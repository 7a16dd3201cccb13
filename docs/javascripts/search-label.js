// The theme's search panel has role="dialog" but no name, so screen readers
// announce it as an unnamed dialog; give it the name its input already shows.
document.querySelectorAll('.md-search[role="dialog"]:not([aria-label])').forEach((dialog) => {
  dialog.setAttribute("aria-label", "Search");
});
