// tests/outputs/report_check.js: injected by test_report.sh into a copy of a report (the report
// itself has no scripts). After the page has loaded, it appends what the browser drew: each
// plot's polylines with their number of points and drawn width, and each image's decoded size.
window.addEventListener('load', function () {
  var out = [];
  document.querySelectorAll('svg.plot').forEach(function (svg, i) {
    svg.querySelectorAll('polyline').forEach(function (pl) {
      out.push('polyline ' + i + ' ' + pl.getAttribute('class') + ' ' + pl.points.numberOfItems + ' ' +
               Math.round(pl.getBBox().width));
    });
  });
  var imgs = document.querySelectorAll('img'), decoded = 0;
  imgs.forEach(function (im) {
    if (im.complete && im.naturalWidth > 0) decoded++;
    out.push('img ' + im.naturalWidth + 'x' + im.naturalHeight + ' ' + Math.round(im.getBoundingClientRect().width) +
             ' ' + im.closest('figure').className);
  });
  out.push('images ' + imgs.length + ' decoded ' + decoded);
  out.push('confusion ' + document.querySelectorAll('table.confusion').length);
  var pre = document.createElement('pre');
  pre.id = 'cnnc-check';
  pre.textContent = '\n' + out.join('\n') + '\n';
  document.body.appendChild(pre);
});
