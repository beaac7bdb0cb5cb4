/* Paginated, filterable, sortable chains table of report.html. Only one page of rows is in the
 * DOM at a time, so 10,000 chains stay responsive. Text goes in via textContent only. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chain-data").textContent);
  var P = data.parties, C = data.chains;  // chain: [slug, local, iri, classes, orig, ben, length, bottleneck, start, end, neck, picture, hops]
  var PAGE = 50, page = 0, sortKey = "rank", sortDir = 1, open = {};
  var rows = C.map(function (c, i) { return {i: i, c: c, text: null}; });
  var view = rows;
  var body = document.getElementById("chain-rows");
  var fmt = new Intl.NumberFormat("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function day(d) { return (d || "").replace("T", " ").slice(0, 16); }
  function searchText(r) {
    if (r.text === null) {
      var c = r.c, parts = [c[1], c[2], c[3].join(" ")];
      c[12].forEach(function (h) { parts.push(P[h[0]][0], P[h[1]][0], h[4]); });
      parts.push(P[c[4]][0], P[c[5]][0]);
      r.text = parts.join(" ").toLowerCase();
    }
    return r.text;
  }
  function key(r) {
    if (sortKey === "length") return r.c[6];
    if (sortKey === "bottleneck") return r.c[7];
    if (sortKey === "start") return r.c[8];
    return r.i;
  }
  function party(idx) {
    var p = P[idx], s = el("span", p[0]);
    s.title = p[1];
    if (p[2]) { s.appendChild(document.createTextNode(" ")); s.appendChild(el("span", "suspicious", "badge sus")); }
    return s;
  }
  function hopsRow(c) {
    var tr = el("tr", null, "hops"), td = el("td");
    td.colSpan = 9;
    var t = el("table");
    var h = el("tr");
    ["#", "Date", "From", "To", "Amount", "Transaction"].forEach(function (x) { h.appendChild(el("th", x)); });
    t.appendChild(h);
    c[12].forEach(function (hop, k) {
      var r = el("tr", null, k === c[10] ? "bottleneck" : "");
      r.appendChild(el("td", String(k + 1), "num"));
      r.appendChild(el("td", day(hop[3])));
      r.appendChild(el("td", P[hop[0]][0]));
      r.appendChild(el("td", P[hop[1]][0]));
      r.appendChild(el("td", fmt.format(hop[2]), "num"));
      r.appendChild(el("td", hop[4], "mono"));
      t.appendChild(r);
    });
    td.appendChild(t);
    tr.appendChild(td);
    return tr;
  }
  function draw() {
    var pages = Math.max(1, Math.ceil(view.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    body.textContent = "";
    view.slice(page * PAGE, page * PAGE + PAGE).forEach(function (r) {
      var c = r.c, tr = el("tr");
      tr.id = "chain-" + c[0];
      var tog = el("td", open[c[0]] ? "▾" : "▸");
      tog.style.cursor = "pointer";
      tog.addEventListener("click", function () { open[c[0]] = !open[c[0]]; draw(); });
      tr.appendChild(tog);
      tr.appendChild(el("td", String(r.i + 1), "num"));
      var name = el("td", c[1], "mono");
      name.title = c[2];
      tr.appendChild(name);
      var cls = el("td");
      c[3].forEach(function (k) { cls.appendChild(el("span", k, "badge " + k)); });
      tr.appendChild(cls);
      var ob = el("td");
      ob.appendChild(party(c[4]));
      ob.appendChild(document.createTextNode(" → "));
      ob.appendChild(party(c[5]));
      tr.appendChild(ob);
      tr.appendChild(el("td", String(c[6]), "num"));
      tr.appendChild(el("td", fmt.format(c[7]), "num"));
      tr.appendChild(el("td", day(c[8]) + " → " + day(c[9])));
      var pic = el("td");
      if (c[11]) { var a = el("a", "picture"); a.href = c[11]; pic.appendChild(a); }
      tr.appendChild(pic);
      body.appendChild(tr);
      if (open[c[0]]) body.appendChild(hopsRow(c));
    });
    document.getElementById("page-info").textContent =
      "page " + (page + 1) + " of " + pages + " · " + view.length.toLocaleString("en-US") + " chains";
  }
  function refilter() {
    var q = document.getElementById("filter").value.trim().toLowerCase();
    view = q ? rows.filter(function (r) { return searchText(r).indexOf(q) >= 0; }) : rows.slice();
    view.sort(function (a, b) { var x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : a.i - b.i) * sortDir; });
    draw();
  }
  document.getElementById("filter").addEventListener("input", function () { page = 0; refilter(); });
  document.getElementById("prev").addEventListener("click", function () { page--; draw(); });
  document.getElementById("next").addEventListener("click", function () { page++; draw(); });
  document.querySelectorAll("#chain-table th[data-sort]").forEach(function (th) {
    th.style.cursor = "pointer";
    th.addEventListener("click", function () {
      var k = th.getAttribute("data-sort");
      sortDir = k === sortKey ? -sortDir : (k === "bottleneck" || k === "length" ? -1 : 1);
      sortKey = k;
      refilter();
    });
  });
  function fromHash() {  // report.html#chain-<slug> opens that chain (links from the overview)
    var m = /^#chain-(.+)$/.exec(location.hash);
    if (!m) return;
    var at = view.findIndex(function (r) { return r.c[0] === m[1]; });
    if (at < 0) return;
    page = Math.floor(at / PAGE);
    open[m[1]] = true;
    draw();
    var row = document.getElementById("chain-" + m[1]);
    if (row) row.scrollIntoView();
  }
  window.addEventListener("hashchange", fromHash);
  refilter();
  fromHash();
})();
