/*
 * Declarative Chart.js charts in the Carillon look. Load after
 * vendor/chart.umd.min.js, in the page's `scripts` block (scripts in <head>
 * are not run on boosted navigations):
 *
 *   <div class="chart">
 *     <canvas role="img" aria-label="…" data-chart='{"type": "bar",
 *       "labels": ["9h", "10h"], "datasets": [{"label": "Ventes", "data": [3, 5]}],
 *       "threshold": {"value": 3, "label": "Seuil 3 %"}, "format": "percent"}'></canvas>
 *   </div>
 *
 * Dataset "color" may be a palette name (accent, ready, in_call, wrap_up,
 * paused, problem, logged_out, neutral) or any CSS colour. "format":
 * "number" (default) or "percent" (values are already percentages).
 * Put the same numbers in a table next to the chart for screen readers.
 */
(function () {
  "use strict";

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function palette() {
    return {
      accent: cssVar("--accent", "#2453a6"),
      ready: cssVar("--state-ready", "#1f9d55"),
      in_call: cssVar("--state-in-call", "#2563eb"),
      wrap_up: cssVar("--state-wrap-up", "#d98a06"),
      paused: cssVar("--state-paused", "#7d70a3"),
      problem: cssVar("--state-problem", "#dc2626"),
      logged_out: cssVar("--state-logged-out", "#9aa1ac"),
      neutral: cssVar("--gray-400", "#a3aab5"),
      text: cssVar("--text-muted", "#555d69"),
      grid: cssVar("--border", "#e2e5ea"),
      danger: cssVar("--danger-solid", "#c4281c")
    };
  }

  var SERIES_ORDER = ["accent", "neutral", "wrap_up", "paused", "ready", "in_call"];

  function resolveColor(name, index, colors) {
    if (name && colors[name]) return colors[name];
    if (name) return name;
    return colors[SERIES_ORDER[index % SERIES_ORDER.length]];
  }

  function locale() {
    return document.documentElement.lang || "fr";
  }

  function formatter(format) {
    var nf = new Intl.NumberFormat(locale(), { maximumFractionDigits: 1 });
    if (format === "percent") {
      var pf = new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 });
      return function (v) { return pf.format(v / 100); };
    }
    return function (v) { return nf.format(v); };
  }

  function build(canvas) {
    var Chart = window.Chart;
    if (!Chart || Chart.getChart(canvas)) return;
    var spec;
    try {
      spec = JSON.parse(canvas.getAttribute("data-chart"));
    } catch (e) {
      return;
    }
    var colors = palette();
    var fmt = formatter(spec.format);
    var type = spec.type || "bar";
    var isCircular = type === "doughnut" || type === "pie";

    var datasets = (spec.datasets || []).map(function (ds, i) {
      var color = isCircular
        ? (ds.colors || []).map(function (c, j) { return resolveColor(c, j, colors); })
        : resolveColor(ds.color, i, colors);
      var out = {
        label: ds.label,
        data: ds.data,
        backgroundColor: color,
        borderColor: isCircular ? cssVar("--surface", "#fff") : color,
        borderWidth: isCircular ? 2 : (type === "line" ? 2 : 0),
        borderRadius: type === "bar" ? 3 : 0,
        maxBarThickness: 28,
        pointRadius: type === "line" ? 0 : undefined,
        pointHoverRadius: 4,
        tension: 0.25
      };
      if (ds.type) out.type = ds.type;
      if (type === "line" && ds.fill) {
        out.fill = true;
        out.backgroundColor = color + "22";
      }
      return out;
    });

    if (spec.threshold && !isCircular) {
      datasets.push({
        type: "line",
        label: spec.threshold.label || "",
        data: (spec.labels || []).map(function () { return spec.threshold.value; }),
        borderColor: colors.danger,
        borderWidth: 1.5,
        borderDash: [5, 4],
        pointRadius: 0,
        pointHoverRadius: 0,
        fill: false,
        order: -1
      });
    }

    var reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var font = { family: cssVar("--font-sans", "system-ui, sans-serif"), size: 12 };

    new Chart(canvas, {
      type: type,
      data: { labels: spec.labels || [], datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: reduced || spec.animate === false ? false : { duration: 300 },
        locale: locale(),
        cutout: type === "doughnut" ? "68%" : undefined,
        interaction: { mode: isCircular ? "nearest" : "index", intersect: false },
        plugins: {
          legend: {
            display: spec.legend !== false && (datasets.length > 1 || isCircular),
            position: isCircular ? "right" : "bottom",
            align: "start",
            labels: { boxWidth: 10, boxHeight: 10, usePointStyle: false, color: colors.text, font: font, padding: 14 }
          },
          tooltip: {
            backgroundColor: "#1b2029",
            titleFont: { family: font.family, size: 12, weight: "600" },
            bodyFont: { family: font.family, size: 12 },
            padding: 10,
            cornerRadius: 6,
            boxPadding: 4,
            callbacks: {
              label: function (ctx) {
                var v = isCircular ? ctx.parsed : ctx.parsed.y;
                return " " + (ctx.dataset.label || ctx.label || "") + " : " + fmt(v);
              }
            }
          }
        },
        scales: isCircular ? {} : {
          x: {
            stacked: !!spec.stacked,
            grid: { display: false },
            border: { color: colors.grid },
            ticks: { color: colors.text, font: font, maxRotation: 0, autoSkipPadding: 8 }
          },
          y: {
            stacked: !!spec.stacked,
            beginAtZero: true,
            suggestedMax: spec.suggestedMax,
            grid: { color: colors.grid },
            border: { display: false },
            ticks: { color: colors.text, font: font, padding: 6, callback: function (v) { return fmt(v); } }
          }
        }
      }
    });
  }

  function initCharts(scope) {
    (scope || document).querySelectorAll("canvas[data-chart]").forEach(build);
  }

  if (!window.CarillonCharts) {
    window.CarillonCharts = { init: initCharts };
    document.addEventListener("htmx:afterSettle", function (evt) {
      initCharts(evt.detail && evt.detail.target);
    });
    /* Free Chart.js instances whose canvas is being swapped out. */
    document.addEventListener("htmx:beforeCleanupElement", function (evt) {
      var el = evt.target;
      if (!window.Chart || !el.querySelectorAll) return;
      var canvases = el.matches("canvas[data-chart]") ? [el] : el.querySelectorAll("canvas[data-chart]");
      Array.prototype.forEach.call(canvases, function (c) {
        var chart = window.Chart.getChart(c);
        if (chart) chart.destroy();
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { initCharts(document); });
  } else {
    initCharts(document);
  }
})();
