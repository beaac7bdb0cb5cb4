// fincrime console: live job status (server-sent events), uploads with progress. No dependencies.
"use strict";
(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const FINAL = ["done", "failed", "rejected", "cancelled"];

  function setProgress(root, p) {
    if (!root || !p) return;
    const bar = root.querySelector("[data-progress]");
    if (bar) { bar.value = p.fraction; bar.title = Math.round(p.fraction * 100) + "%"; }
    const phases = root.querySelector("[data-phases]");
    if (phases) {
      phases.replaceChildren(...p.phases.map((ph) => {
        const s = document.createElement("span");
        s.className = "phase " + ph.state; s.textContent = ph.name; return s;
      }));
    }
    const detail = root.querySelector("[data-detail]");
    if (detail) detail.textContent = p.detail || "";
  }

  function setStatus(el, status) {
    if (!el) return;
    el.textContent = status; el.className = "badge " + status;
  }

  function sum(obj) { return Object.values(obj || {}).reduce((a, b) => a + b, 0); }

  function jobsTable(table) {
    const source = new EventSource(table.dataset.sse);
    source.addEventListener("job", (ev) => {
      const job = JSON.parse(ev.data);
      let row = table.querySelector('tr[data-job="' + CSS.escape(job.id) + '"]');
      if (!row) {
        const empty = table.querySelector("tr.empty"); if (empty) empty.remove();
        row = document.createElement("tr"); row.dataset.job = job.id;
        row.innerHTML = '<td><a></a></td><td></td><td><span data-status></span></td>' +
          '<td class="wide"><progress max="1" value="0" data-progress></progress><div class="phases" data-phases></div>' +
          '<div class="detail" data-detail></div></td><td class="num" data-derived></td><td class="num" data-chains></td>' +
          '<td class="num" data-alerts></td><td></td>';
        const link = row.querySelector("a"); link.href = "/jobs/" + encodeURIComponent(job.id); link.textContent = job.id;
        row.children[1].textContent = job.name || "";
        row.children[7].textContent = (job.created_at || "").replace("T", " ").slice(0, 19);
        table.tBodies[0].prepend(row);
      }
      setStatus(row.querySelector("[data-status]"), job.status);
      setProgress(row, job.progress);
      if (job.derived_triples != null) row.querySelector("[data-derived]").textContent = job.derived_triples.toLocaleString("en");
      if (job.chains && Object.keys(job.chains).length) {
        row.querySelector("[data-chains]").textContent = (job.chains.SuspiciousChain || 0) + " / " + (job.chains.HighValueChain || 0);
      }
      if (job.alerts && sum(job.alerts)) {
        const cell = row.querySelector("[data-alerts]"); const a = document.createElement("a");
        a.href = "/alerts?job=" + encodeURIComponent(job.id); a.textContent = sum(job.alerts); cell.replaceChildren(a);
      }
    });
  }

  function jobPage(root) {
    const id = root.dataset.jobPage;
    const initial = root.dataset.initial;
    const source = new EventSource("/api/jobs/" + encodeURIComponent(id) + "/events");
    source.addEventListener("job", (ev) => {
      const job = JSON.parse(ev.data);
      setStatus(document.querySelector("[data-status]"), job.status);
      setProgress(root, job.progress);
      // A job that just finished, or whose alerts just appeared: reload once for counts, files and alerts.
      const newAlerts = job.status === "done" && sum(job.alerts) > 0 && root.dataset.alerts === "0";
      if ((FINAL.includes(job.status) && job.status !== initial) || newAlerts) {
        source.close(); setTimeout(() => location.reload(), 300);
      }
    });
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) { const td = document.createElement("td"); if (c instanceof Node) td.append(c); else td.textContent = c; tr.append(td); }
    return tr;
  }

  function showUpload(out, status, doc) {
    out.replaceChildren();
    const head = document.createElement("p");
    if (status === 201) { head.className = "ok"; head.textContent = "Uploaded to dataset " + doc.dataset + "."; }
    else { head.className = "problem"; head.id = "upload-problems-head"; head.textContent = typeof doc.detail === "string" ? doc.detail : (doc.problems && doc.problems.length ? doc.problems.length + " problem(s): nothing was started for a rejected spec." : "The upload failed (" + status + ")."); }
    out.append(head);
    if (doc.problems && doc.problems.length) {
      const ul = document.createElement("ul"); ul.className = "problems"; ul.id = "upload-problems";
      for (const p of doc.problems) { const li = document.createElement("li"); li.textContent = p.where + ": " + p.message; ul.append(li); }
      out.append(ul);
    }
    const files = [...(doc.files || []), ...(doc.specs || [])];
    if (files.length) {
      const table = document.createElement("table"); table.className = "grid"; table.id = "upload-files";
      table.append(row(["file", "kind", "bytes", "sha256", "status", "job"]));
      for (const f of files) {
        let job = "";
        if (f.job) { job = document.createElement("a"); job.href = "/jobs/" + encodeURIComponent(f.job); job.textContent = f.job; job.className = "job-link"; }
        else if (f.status === "accepted") job = "queued; see Jobs";
        table.append(row([f.path, f.kind, (f.bytes || 0).toLocaleString("en"), (f.sha256 || "").slice(0, 16) + "…", f.status, job]));
      }
      out.append(table);
    }
  }

  function uploadForm(form) {
    const out = document.getElementById("upload-result");
    const bar = document.getElementById("upload-progress");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const dataset = form.querySelector("#dataset").value.trim();
      const folder = form.querySelector("#folder").value.trim().replace(/^\/+|\/+$/g, "");
      const data = new FormData();
      for (const f of form.querySelector("#files").files) {
        const inFolder = folder && /\.(dlog|rq)$/.test(f.name);
        data.append("files", f, inFolder ? folder + "/" + f.name : f.name);
      }
      for (const f of form.querySelector("#spec").files) data.append("files", f, f.name);
      const overwrite = form.querySelector("#overwrite").checked;
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/datasets/" + encodeURIComponent(dataset) + "/files?overwrite=" + overwrite);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; });
      xhr.addEventListener("load", () => {
        bar.hidden = true;
        let doc = {}; try { doc = JSON.parse(xhr.responseText); } catch (e) { doc = { detail: xhr.responseText }; }
        showUpload(out, xhr.status, doc);
      });
      xhr.addEventListener("error", () => { bar.hidden = true; showUpload(out, 0, { detail: "The connection failed." }); });
      bar.hidden = false; bar.value = 0;
      out.textContent = "Uploading…";
      xhr.send(data);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.querySelector("table[data-sse]"); if (table) jobsTable(table);
    const page = document.querySelector("[data-job-page]"); if (page) jobPage(page);
    const form = document.querySelector("form[data-upload]"); if (form) uploadForm(form);
    for (const a of document.querySelectorAll("a[data-back]")) {
      a.addEventListener("click", (e) => { if (history.length > 1) { e.preventDefault(); history.back(); } });
    }
  });
})();
