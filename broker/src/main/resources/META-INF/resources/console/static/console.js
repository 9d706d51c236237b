// Spillway console: the little the pages do in the browser. No inline scripts (the pages' CSP forbids them).
(function () {
  'use strict';

  // Live parts (data-refresh = milliseconds) ask for fresh figures while their tab is visible.
  function startRefresh() {
    document.querySelectorAll('[data-refresh]').forEach(function (el) {
      if (el.dataset.refreshing) return;
      el.dataset.refreshing = '1';
      var every = parseInt(el.dataset.refresh, 10) || 2000;
      setInterval(function () {
        var live = document.getElementById(el.id) || el;
        if (document.visibilityState === 'visible' && window.htmx) window.htmx.trigger(live, 'refresh');
      }, every);
    });
  }

  // A running task's output follows as server-sent events.
  function follow() {
    var log = document.querySelector('pre[data-follow]');
    if (!log || !window.EventSource) return;
    var source = new EventSource(log.dataset.follow);
    source.onmessage = function (e) {
      var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.appendChild(document.createTextNode(e.data));
      if (atBottom) log.scrollTop = log.scrollHeight;
    };
    source.onerror = function () { source.close(); };
  }

  document.addEventListener('DOMContentLoaded', function () {
    startRefresh();
    follow();
    if (window.SpillwayCharts) window.SpillwayCharts.draw();
  });
})();
