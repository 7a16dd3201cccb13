// The theme downloads the search index as soon as a page loads, and the index
// (the text of every page) is the largest file a first visit would fetch. This
// script runs before the theme's and holds that one download back until the
// reader reaches for search: the search field focused, its button pressed, or
// one of the theme's keys that open it (f, s, /). Search works as before, from
// the first key typed.
(() => {
  const INDEX = "/search/search_index.json";
  const waiting = [];
  let wanted = false;

  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.isSearchIndex = new URL(String(url), location.href).pathname.endsWith(INDEX);
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (...body) {
    if (this.isSearchIndex && !wanted) {
      waiting.push(() => send.apply(this, body));
      return undefined;
    }
    return send.apply(this, body);
  };

  const fetchIndex = () => {
    if (wanted) return;
    wanted = true;
    waiting.splice(0).forEach((start) => start());
  };
  document.addEventListener("focusin", (event) => {
    if (event.target.closest?.(".md-search")) fetchIndex();
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest?.('label[for="__search"]')) fetchIndex();
  });
  document.addEventListener("keydown", (event) => {
    if (["f", "s", "/"].includes(event.key.toLowerCase())) fetchIndex();
  });
})();
