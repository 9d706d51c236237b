// Spillway console charts: uPlot (served from the broker) over JSON the page carries in data-chart.
(function () {
  'use strict';
  var PALETTE = ['#4f8ef7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

  function money(v) { return v == null ? '-' : v.toFixed(v < 1 ? 4 : 2) + ' USD'; }

  function stacked(el, data) {
    // uPlot draws series in order, later ones on top: the full stack first, each next one without the previous top group.
    var n = data.series.length;
    var sums = [];
    for (var i = 0; i < n; i++) {
      sums.push(data.x.map(function (_, j) {
        var s = 0;
        for (var k = i; k < n; k++) s += data.series[k].values[j] || 0;
        return s;
      }));
    }
    var series = [{}];
    data.series.forEach(function (s, i) {
      var colour = PALETTE[i % PALETTE.length];
      series.push({ label: s.label, stroke: colour, fill: colour, width: 0, points: { show: false },
        paths: uPlot.paths.bars({ size: [0.8, 64] }),
        value: function (u, v, si, idx) { return idx == null ? '-' : money(data.series[i].values[idx]); } });
    });
    return new uPlot({ width: width(el), height: 260, series: series, scales: { x: { time: true } },
      axes: [{}, { values: function (u, ticks) { return ticks.map(function (t) { return t + ' $'; }); }, size: 70 }] },
      [data.x].concat(sums), el);
  }

  function lines(el, data) {
    var series = [{}];
    data.series.forEach(function (s, i) {
      series.push({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, dash: s.dash ? [6, 4] : undefined, spanGaps: false, points: { show: true, size: 4 },
        value: function (u, v) { return money(v); } });
    });
    return new uPlot({ width: width(el), height: 220, series: series, scales: { x: { time: true } },
      axes: [{}, { values: function (u, ticks) { return ticks.map(function (t) { return t + ' $'; }); }, size: 70 }] },
      [data.x].concat(data.series.map(function (s) { return s.values; })), el);
  }

  function width(el) { return Math.max(320, Math.min(1200, el.clientWidth - 20)); }

  window.SpillwayCharts = {
    draw: function () {
      if (!window.uPlot) return;
      document.querySelectorAll('[data-chart]').forEach(function (el) {
        if (!el.dataset.chart || el.dataset.drawn) return;
        el.dataset.drawn = '1';
        var data = JSON.parse(el.dataset.chart);
        if (!data.x.length) { el.textContent = 'No periods in this window.'; return; }
        (el.dataset.kind === 'lines' ? lines : stacked)(el, data);
      });
    }
  };
})();
