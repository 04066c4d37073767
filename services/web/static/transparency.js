// The transparency portal's charts: Chart.js (served by this server) draws each canvas from the numbers the page
// carries next to it; the table after each chart holds the same numbers for anyone who does not see it.
(() => {
  'use strict';

  // Distinct colours, each at least 3:1 against white (WCAG 1.4.11), and distinct dash patterns for the lines.
  const COLOURS = { initial: '#0b4f8a', final: '#8a4b08', executed: '#1b6e2c' };
  const DASHES = { initial: [], final: [6, 4], executed: [2, 3] };

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof window.Chart !== 'function') return;
    const spec = JSON.parse(source.textContent);
    const locale = document.querySelector('main').dataset.numberLocale || document.documentElement.lang;
    const money = new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR', maximumFractionDigits: 0 });
    const exact = new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR', maximumFractionDigits: 2 });
    const horizontal = spec.type === 'bar';
    if (horizontal) {
      // Room for each label's bars, so long chapter and administration names stay readable on a phone.
      const rows = spec.labels.length * Math.max(1, spec.datasets.length);
      canvas.parentElement.style.height = `${Math.max(240, rows * 16 + 120)}px`;
    }
    const datasets = spec.datasets.map((series) => ({
      label: series.label,
      data: series.data,
      backgroundColor: COLOURS[series.key],
      borderColor: COLOURS[series.key],
      borderDash: spec.type === 'line' ? DASHES[series.key] : undefined,
      pointRadius: 4,
      borderWidth: 2,
    }));
    // Bars start at zero; lines over the years show how far apart the three sums are, so they fit the data.
    const valueAxis = { beginAtZero: horizontal, ticks: { callback: (value) => money.format(value) } };
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: horizontal ? 'y' : 'x',
        locale,
        scales: horizontal ? { x: valueAxis } : { y: valueAxis },
        plugins: {
          legend: { position: 'bottom', labels: { color: '#1a1a1a' } },
          tooltip: {
            callbacks: { label: (item) => `${item.dataset.label}: ${exact.format(item.parsed[horizontal ? 'x' : 'y'])}` },
          },
        },
      },
    });
  }

  function drawAll() {
    document.querySelectorAll('canvas[data-chart]').forEach(draw);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', drawAll);
  else drawAll();
})();
