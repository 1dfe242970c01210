// Charts over dashboard tables (progressive enhancement). Each <table data-chart="bar|line">
// keeps its figures; this reads them and draws a Chart.js chart above it. The table stays the
// accessible version, so the chart is marked as an image that says so. Without JavaScript, or
// if Chart.js fails to load, the page shows the tables alone. No inline script is needed.
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") {
    return;
  }
  // GOV.UK Frontend colours, distinct enough for neighbouring series.
  var PALETTE = ["#1d70b8", "#f47738", "#00703c", "#d4351c", "#4c2c92", "#b58840", "#5694ca",
    "#85994b", "#912b88", "#28a197"];

  function valueOf(cell) {
    if (!cell) {
      return null;
    }
    var raw = cell.getAttribute("data-value");
    if (raw === null || raw === "") {
      return null;
    }
    var number = Number(raw);
    return isFinite(number) ? number : null;
  }

  function draw(table) {
    var kind = table.getAttribute("data-chart");
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    if (!rows.length) {
      return;
    }
    var stacked = table.getAttribute("data-chart-stacked") === "true";
    var labels = rows.map(function (row) { return row.cells[0].textContent.trim(); });
    var datasets = [];
    headers.forEach(function (th, column) {
      var series = th.getAttribute("data-series");
      if (!series) {
        return;
      }
      var colour = PALETTE[datasets.length % PALETTE.length];
      datasets.push({
        label: th.textContent.trim(),
        type: series,
        data: rows.map(function (row) { return valueOf(row.cells[column]); }),
        backgroundColor: colour,
        borderColor: colour,
        borderWidth: series === "line" ? 2 : 0,
        fill: false,
        spanGaps: true
      });
    });
    if (!datasets.length) {
      return;
    }
    var caption = table.caption ? table.caption.textContent.trim() : "Chart";
    var figure = document.createElement("figure");
    figure.className = "pbr-chart govuk-!-margin-0 govuk-!-margin-bottom-4";
    figure.style.position = "relative";
    figure.style.height = "320px";
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", caption + ": chart of the figures in the table that follows.");
    figure.appendChild(canvas);
    // Above the table's scrolling region (if any), so the chart keeps the page's width.
    var anchor = table.closest(".pbr-table-scroll") || table;
    anchor.parentNode.insertBefore(figure, anchor);
    new window.Chart(canvas, {
      type: kind,
      data: { labels: labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { title: { display: true, text: caption } },
        scales: {
          x: { stacked: stacked },
          y: { stacked: stacked, beginAtZero: true }
        }
      }
    });
    table.setAttribute("data-chart-drawn", "true");
  }

  function drawAll() {
    Array.prototype.forEach.call(document.querySelectorAll("table[data-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
