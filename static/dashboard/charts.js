/* Jobdeck overview chart: jobs finished and failed per bucket over the last hour, drawn with uPlot.
   The data is JSON in #chart-data[data-chart], which the server renders inside the overview's live
   region: each live snapshot (WebSocket) replaces that element, and the chart is redrawn from it.
   Data shape (dashboard/charts.py Throughput.as_json): {bucket, start, n, from, queues: {name:
   {done: [[index, count]...], failed: [...]}}}. */
(function () {
  "use strict";

  var target = document.getElementById("throughput-chart");
  if (!target || !window.uPlot) return;
  var picker = document.getElementById("chart-queue");
  var pickerLabel = picker ? picker.closest("label") : null;
  var fallback = document.getElementById("chart-fallback");
  var range = document.getElementById("chart-range");
  if (range) range.closest("label").hidden = false;
  var plot = null;
  var lastRaw = "";

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function withAlpha(hex, alpha) {
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) return hex;
    return "rgba(" + parseInt(m[1], 16) + "," + parseInt(m[2], 16) + "," + parseInt(m[3], 16) + "," + alpha + ")";
  }

  function readData() {
    var el = document.getElementById("chart-data");
    if (!el || !el.dataset.chart) return null;
    try {
      return JSON.parse(el.dataset.chart);
    } catch (e) {
      return null;
    }
  }

  /* Dense columns for uPlot: x (seconds since 1970), done, failed; null before the covered range.
     Only the last `seconds` of the window are shown. */
  function columns(data, queue, seconds) {
    var xs = [], done = [], failed = [];
    var firstKnown = data.from === null ? 0 : Math.floor((data.from - data.start) / data.bucket);
    var first = Math.max(0, data.n - Math.ceil(seconds / data.bucket));
    for (var i = 0; i < data.n; i++) {
      xs.push(data.start + i * data.bucket);
      done.push(i < firstKnown ? null : 0);
      failed.push(i < firstKnown ? null : 0);
    }
    Object.keys(data.queues).forEach(function (name) {
      if (queue && name !== queue) return;
      data.queues[name].done.forEach(function (p) { done[p[0]] += p[1]; });
      data.queues[name].failed.forEach(function (p) { failed[p[0]] += p[1]; });
    });
    // A closing point at the end of the last bucket, so its step is drawn across its ten seconds.
    xs.push(data.start + data.n * data.bucket);
    done.push(done[data.n - 1]);
    failed.push(failed[data.n - 1]);
    return [xs.slice(first), done.slice(first), failed.slice(first)];
  }

  function syncPicker(data) {
    if (!picker) return;
    var names = Object.keys(data.queues).sort();
    var have = Array.prototype.map.call(picker.options, function (o) { return o.value; });
    names.forEach(function (name) {
      if (have.indexOf(name) < 0) picker.appendChild(new Option(name, name));
    });
    if (pickerLabel) pickerLabel.hidden = picker.options.length <= 2;
  }

  var minutes = uPlot.fmtDate("{HH}:{mm}"), seconds = uPlot.fmtDate("{HH}:{mm}:{ss}");
  function timeLabels(u, splits) {
    var fine = splits.length > 1 && splits[1] - splits[0] < 60;
    return splits.map(function (s) { return (fine ? seconds : minutes)(new Date(s * 1000)); });
  }

  function options() {
    var ok = cssVar("--ok"), bad = cssVar("--bad"), muted = cssVar("--muted"), line = cssVar("--line");
    var axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    var steps = uPlot.paths.stepped({ align: 1 });
    return {
      width: Math.max(240, target.clientWidth),
      height: 200,
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(5, max)]; } } },
      series: [
        {},
        { label: "Done", stroke: ok, fill: withAlpha(ok, 0.15), width: 1.5, paths: steps, points: { show: false } },
        { label: "Failed", stroke: bad, fill: withAlpha(bad, 0.2), width: 1.5, paths: steps, points: { show: false } },
      ],
      axes: [Object.assign({ values: timeLabels }, axis), Object.assign({ size: 40 }, axis)],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
  }

  function draw(force) {
    var el = document.getElementById("chart-data");
    var raw = el ? el.dataset.chart || "" : "";
    if (!force && raw === lastRaw && plot) return;
    lastRaw = raw;
    var data = readData();
    if (!data) return;
    syncPicker(data);
    var cols = columns(data, picker ? picker.value : "", range ? Number(range.value) : data.n * data.bucket);
    if (force && plot) {
      plot.destroy();
      plot = null;
    }
    if (plot) plot.setData(cols);
    else plot = new uPlot(options(), cols, target);
    if (fallback) fallback.hidden = true;
    target.dataset.drawn = String(Number(target.dataset.drawn || "0") + 1); // for tests: redraws so far
  }

  draw(true);
  // Live snapshots replace #chart-data; htmx requests of the overview partial do too.
  document.body.addEventListener("htmx:wsAfterMessage", function () { draw(false); });
  document.body.addEventListener("htmx:afterSettle", function () { draw(false); });
  if (picker) picker.addEventListener("change", function () { draw(true); });
  if (range) range.addEventListener("change", function () { draw(true); });
  // Colours follow the theme: the toggle changes <html data-theme>, "system" follows the OS.
  new MutationObserver(function () { draw(true); }).observe(document.documentElement, {
    attributes: true, attributeFilter: ["data-theme"],
  });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () { draw(true); });
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      if (plot) plot.setSize({ width: Math.max(240, target.clientWidth), height: 200 });
    }, 100);
  });
})();
