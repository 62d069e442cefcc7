// Filters the overview as one types: the same filters the form applies on the server, so
// the page works the same without this script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("filters");
  var table = document.getElementById("overview");
  if (!form || !table) {
    return;
  }
  var rows = Array.prototype.slice.call(table.querySelectorAll("tr.slo-row"));
  var field = function (id) { return document.getElementById(id); };
  var count = field("shown-count");
  var none = field("none-shown");
  function apply() {
    var q = field("filter-q").value.trim().toLowerCase();
    var team = field("filter-team").value;
    var tier = field("filter-tier").value;
    var status = field("filter-status").value;
    var shown = 0;
    rows.forEach(function (row) {
      var keep = (!team || row.dataset.team === team) &&
        (!tier || row.dataset.tier === tier) &&
        (!status || row.dataset.status === status) &&
        (!q || row.dataset.search.indexOf(q) !== -1);
      row.hidden = !keep;
      if (keep) {
        shown += 1;
      }
    });
    count.textContent = shown + " shown";
    if (none) {
      none.hidden = shown !== 0;
    }
    var params = new URLSearchParams(new FormData(form));
    Array.from(params.keys()).forEach(function (k) { if (!params.get(k)) { params.delete(k); } });
    var query = params.toString();
    history.replaceState(null, "", query ? "?" + query : location.pathname);
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
});
