/* fincrime graph viewer: pan/zoom (svg-pan-zoom), hover details, click a party for its panel.
 * Reads the page's data from <script type="application/json" id="viz-data">:
 *   {nodes: {id: {tip: [lines], panel: {...}}}, edges: {id: {tip: [lines], row: "hop-3"}}}
 * Graph elements are Graphviz SVG groups whose id is the key. Text is set with textContent only,
 * so names from the data can never inject markup. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("viz-data").textContent);
  var tip = document.getElementById("tooltip");
  var panel = document.getElementById("panel");

  function showTip(lines, ev) {
    tip.textContent = lines.join("\n");
    tip.style.display = "block";
    moveTip(ev);
  }
  function moveTip(ev) {
    var x = ev.clientX + 14, y = ev.clientY + 14;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    if (x + w > window.innerWidth - 4) x = ev.clientX - w - 14;
    if (y + h > window.innerHeight - 4) y = ev.clientY - h - 14;
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function hideTip() { tip.style.display = "none"; }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function renderPanel(p) {
    if (!panel) return;
    panel.textContent = "";
    panel.appendChild(el("h3", p.title));
    (p.lines || []).forEach(function (l) { panel.appendChild(el("div", l)); });
    if (p.badges) p.badges.forEach(function (b) { panel.appendChild(el("span", b, "badge sus")); });
    (p.links || []).forEach(function (l) {
      var d = el("div"), a = el("a", l.text);
      a.href = l.href;
      d.appendChild(a);
      panel.appendChild(d);
    });
    if (p.table) {
      panel.appendChild(el("h3", p.table.title));
      if (p.table.note) panel.appendChild(el("div", p.table.note, "hint"));
      var t = el("table"), hr = el("tr");
      p.table.columns.forEach(function (c, i) { hr.appendChild(el("th", c, p.table.numeric && p.table.numeric.indexOf(i) >= 0 ? "num" : "")); });
      t.appendChild(hr);
      p.table.rows.forEach(function (r) {
        var tr = el("tr", null, r.mark ? "hl" : "");
        r.cells.forEach(function (c, i) { tr.appendChild(el("td", c, p.table.numeric && p.table.numeric.indexOf(i) >= 0 ? "num" : "")); });
        t.appendChild(tr);
      });
      panel.appendChild(t);
    }
  }

  var svg = document.querySelector(".graph > svg");
  if (svg) {
    // Graphviz <title>s and xlink:titles would add native tooltips on top of ours.
    svg.querySelectorAll("title").forEach(function (t) { t.remove(); });
    svg.querySelectorAll("a").forEach(function (a) {
      a.removeAttributeNS("http://www.w3.org/1999/xlink", "title");
      a.removeAttribute("title");
    });
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    var pz = window.svgPanZoom(svg, {
      zoomEnabled: true, controlIconsEnabled: true, fit: true, center: true,
      minZoom: 0.05, maxZoom: 60, zoomScaleSensitivity: 0.3, dblClickZoomEnabled: true
    });
    window.vizPanZoom = pz;
    window.addEventListener("resize", function () { pz.resize(); pz.fit(); pz.center(); });

    Object.keys(data.edges || {}).forEach(function (id) {
      var g = document.getElementById(id);
      if (!g) return;
      var info = data.edges[id];
      var path = g.querySelector("path");
      if (path) {  // a wide invisible copy makes thin edges easy to hover
        var hit = path.cloneNode(false);
        hit.setAttribute("class", "hit");
        path.parentNode.insertBefore(hit, path.nextSibling);
      }
      var row = info.row ? document.getElementById(info.row) : null;
      g.addEventListener("mouseenter", function (ev) { showTip(info.tip, ev); if (row) row.classList.add("hl"); });
      g.addEventListener("mousemove", moveTip);
      g.addEventListener("mouseleave", function () { hideTip(); if (row) row.classList.remove("hl"); });
      if (row) {
        row.addEventListener("mouseenter", function () { g.classList.add("hl"); });
        row.addEventListener("mouseleave", function () { g.classList.remove("hl"); });
      }
    });
    Object.keys(data.nodes || {}).forEach(function (id) {
      var g = document.getElementById(id);
      if (!g) return;
      var info = data.nodes[id];
      g.addEventListener("mouseenter", function (ev) { showTip(info.tip, ev); });
      g.addEventListener("mousemove", moveTip);
      g.addEventListener("mouseleave", hideTip);
      g.addEventListener("click", function () {
        svg.querySelectorAll("g.node.selected").forEach(function (n) { n.classList.remove("selected"); });
        g.classList.add("selected");
        if (info.panel) renderPanel(info.panel);
      });
    });
  }

  // Other hoverable marks (timeline dots) carry their text in data-tip.
  document.querySelectorAll("[data-tip]").forEach(function (m) {
    m.querySelectorAll("title").forEach(function (t) { t.remove(); });
    m.addEventListener("mouseenter", function (ev) { showTip(m.getAttribute("data-tip").split("\n"), ev); });
    m.addEventListener("mousemove", moveTip);
    m.addEventListener("mouseleave", hideTip);
  });
})();
