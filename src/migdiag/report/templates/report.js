(function () {
  "use strict";
  // Progressive: the page is complete without this script; it opens folded details, filters
  // the attempts, copies commands and sorts the triage index.
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

  // Filter: every row and section that carries data-filter (VM, id, hosts, cause).
  var filter = document.getElementById("filter");
  if (filter) {
    filter.parentNode.hidden = false;
    var count = document.getElementById("filter-count");
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      document.querySelectorAll("tr[data-filter], section[data-filter]").forEach(function (el) {
        var text = el.getAttribute("data-filter");
        var match = words.every(function (w) { return text.indexOf(w) >= 0; });
        el.hidden = !match;
        if (match && el.tagName === "TR") { shown += 1; }
      });
      document.querySelectorAll("details.healthy").forEach(function (d) {
        if (words.length && d.querySelector("tr[data-filter]:not([hidden])")) { d.open = true; }
      });
      count.textContent = words.length ? shown + " attempt" + (shown === 1 ? "" : "s") + " match" : "";
    });
  }

  // Copy buttons beside every command.
  function copyText(text, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { legacyCopy(text, done); });
    } else {
      legacyCopy(text, done);
    }
  }
  function legacyCopy(text, done) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(area);
    done();
  }
  document.querySelectorAll(".command button.copy").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var code = b.parentNode.querySelector("code");
      copyText(code.textContent, function () {
        b.textContent = "Copied";
        window.setTimeout(function () { b.textContent = "Copy"; }, 1500);
      });
    });
  });

  // Sortable tables (the triage index): a button in each header sorts by that column.
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    table.querySelectorAll("thead th").forEach(function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[column].getAttribute("data-sort") || a.cells[column].textContent;
          var y = b.cells[column].getAttribute("data-sort") || b.cells[column].textContent;
          var nx = parseFloat(x), ny = parseFloat(y);
          var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });

  window.addEventListener("hashchange", reveal);
  window.addEventListener("beforeprint", function () { setAll(true); });
  reveal();
})();
