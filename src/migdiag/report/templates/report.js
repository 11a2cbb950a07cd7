(function () {
  "use strict";
  // Progressive: the page is complete without this script; it only opens folded details.
  function setAll(open) {
    document.querySelectorAll("details").forEach(function (d) { d.open = open; });
  }
  function reveal() {
    var id = decodeURIComponent(window.location.hash.slice(1));
    if (!id) { return; }
    var el = document.getElementById(id);
    if (el && el.tagName === "DETAILS") { el.open = true; }
  }
  document.querySelectorAll("button[data-expand]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { setAll(b.getAttribute("data-expand") === "open"); });
  });
  window.addEventListener("hashchange", reveal);
  window.addEventListener("beforeprint", function () { setAll(true); });
  reveal();
})();
