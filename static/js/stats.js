// Draws the statistics chart from the numbers in data-chart (the table shows them too).
(function () {
  "use strict";
  var el = document.getElementById("stats-chart");
  if (!el || !window.Chart) return;
  var d = JSON.parse(el.dataset.chart || "{}");
  new Chart(el, {
    type: "bar",
    data: {
      labels: d.labels || [],
      datasets: [
        { label: hwT("js.stats.reported"), data: d.created || [], backgroundColor: "#1d4ed8" },
        { label: hwT("js.stats.resolved"), data: d.resolved || [], backgroundColor: "#16a34a" }
      ]
    },
    options: { animation: false, responsive: true, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  el.dataset.ready = "true";
})();
