// Vínculo console: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  var confirmText = document.body.getAttribute("data-confirm") || "Are you sure?";

  // Destructive actions: ask here instead of on the server's confirmation page.
  document.querySelectorAll("form[data-confirm-action]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(confirmText)) { event.preventDefault(); return; }
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "confirmed"; input.value = "yes";
      form.appendChild(input);
    });
  });

  function every(seconds, fn) { if (seconds > 0) { window.setInterval(fn, seconds * 1000); } }
  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  // Sending progress: update the bar and the figures; reload when the state changes.
  var progress = document.getElementById("progress");
  if (progress) {
    every(Number(progress.getAttribute("data-poll")), function () {
      getJSON(progress.getAttribute("data-progress-url")).then(function (p) {
        if (p.state !== "sending") { window.location.reload(); return; }
        ["targeted", "sent", "delivered", "failed", "skipped", "pending"].forEach(function (k) {
          var dd = progress.querySelector('[data-k="' + k + '"]');
          if (dd) { dd.textContent = p[k].toLocaleString(document.documentElement.lang); }
        });
        var done = p.sent + p.failed + (p.skipped || 0), pct = p.targeted ? Math.floor(100 * done / p.targeted) : 0;
        var bar = progress.querySelector(".bar"), label = progress.querySelector(".label");
        if (bar) { bar.style.width = pct + "%"; }
        if (label) { label.textContent = done + " / " + p.targeted + " (" + pct + " %)"; }
      }).catch(function () {});
    });
  }

  // An import running: follow its progress; reload when it ends (to show the rejected rows).
  var job = document.getElementById("import-progress");
  if (job) {
    every(Number(job.getAttribute("data-poll")), function () {
      getJSON(job.getAttribute("data-progress-url")).then(function (p) {
        if (["uploading", "queued", "running"].indexOf(p.status) < 0) { window.location.reload(); return; }
        ["rows", "created", "updated", "unchanged", "rejected", "skipped"].forEach(function (k) {
          var dd = job.querySelector('[data-k="' + k + '"]');
          if (dd) { dd.textContent = (p[k] || 0).toLocaleString(document.documentElement.lang); }
        });
        var pct = Math.floor(100 * (p.progress || 0));
        var bar = job.querySelector(".bar"), label = job.querySelector(".label");
        if (bar) { bar.style.width = pct + "%"; }
        if (label) { label.textContent = pct + " %"; }
      }).catch(function () {});
    });
  }

  // Mentions inbox: new mentions appear as they arrive (unless a button has focus).
  var inbox = document.getElementById("mentions");
  if (inbox) {
    every(Number(inbox.getAttribute("data-poll")), function () {
      if (inbox.contains(document.activeElement) && document.activeElement.tagName === "BUTTON") { return; }
      var url = inbox.getAttribute("data-rows-url");
      url += (url.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(inbox.getAttribute("data-newest"));
      getJSON(url).then(function (r) {
        if (!r.fresh) { return; }
        inbox.innerHTML = r.html;
        inbox.setAttribute("data-newest", r.newest);
        var total = document.getElementById("total"), fresh = document.getElementById("fresh");
        if (total) { total.textContent = "(" + r.total.toLocaleString(document.documentElement.lang) + ")"; }
        if (fresh) { fresh.textContent = inbox.getAttribute("data-fresh-text").replace("{n}", r.fresh); }
      }).catch(function () {});
    });
  }

  // Lists that change while something is being sent: reload now and then, but not
  // while someone is filling in a form on the same page (a chosen file, a field in use).
  function formInUse() {
    var active = document.activeElement;
    if (active && active.form) { return true; }
    return Array.prototype.some.call(document.querySelectorAll("input[type=file]"),
                                     function (input) { return input.files && input.files.length > 0; });
  }
  document.querySelectorAll("[data-poll-reload]").forEach(function (el) {
    every(Number(el.getAttribute("data-poll-reload")), function () {
      if (!formInUse()) { window.location.reload(); }
    });
  });
  // With this script running, the <noscript> meta refresh is not needed.
})();

// SMS editor: segment count as you type (GSM-7: 160 per message, 153 per part;
// anything outside GSM-7 switches the whole message to UCS-2: 70 and 67).
(function () {
  "use strict";
  var GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var EXT = "^{}\\[~]|€";
  function count(text) {
    var units = 0, gsm = true;
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i);
      if (GSM.indexOf(ch) >= 0) { units += 1; } else if (EXT.indexOf(ch) >= 0) { units += 2; } else { gsm = false; break; }
    }
    if (!gsm) { units = text.length; }
    var single = gsm ? 160 : 70, part = gsm ? 153 : 67;
    return {segments: units <= single ? 1 : Math.ceil(units / part), units: units, encoding: gsm ? "GSM-7" : "UCS-2"};
  }
  document.querySelectorAll('textarea[data-sms="1"]').forEach(function (area) {
    var out = document.querySelector('.sms-count[data-for="' + area.name + '"]');
    if (!out) { return; }
    function update() {
      var c = count(area.value);
      out.textContent = c.segments + " SMS · " + c.units + " · " + c.encoding;
    }
    area.addEventListener("input", update);
    update();
  });
})();

// Preview pickers: a new language shows at once (the button stays for no-JS).
document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
  select.addEventListener("change", function () { select.form.submit(); });
});

// The journey editor: each step shows the fields of its type (without script, all of them).
(function () {
  "use strict";
  var editor = document.getElementById("journey-editor");
  if (!editor) { return; }
  editor.classList.add("js");
  editor.addEventListener("change", function (event) {
    if (event.target.getAttribute("data-role") === "step-type") {
      event.target.closest(".journey-step").setAttribute("data-type", event.target.value);
    }
  });
  // "Add a step": an empty row like the last one, numbered next (without script, saving gives more rows).
  var add = editor.querySelector("[data-role=add-step]");
  var count = editor.querySelector("input[name=journey_rows]");
  var list = editor.querySelector(".journey-steps");
  if (!add || !count || !list || !list.lastElementChild) { return; }
  add.hidden = false;
  add.addEventListener("click", function () {
    var n = parseInt(count.value, 10) || list.children.length;
    var row = list.lastElementChild.cloneNode(true);
    row.setAttribute("data-type", "");
    row.querySelectorAll(".field-error").forEach(function (error) { error.remove(); });
    row.querySelector("[data-role=step-number]").textContent = String(n + 1);
    row.querySelectorAll("[name]").forEach(function (field) {
      field.name = field.name.replace(/^step\d+_/, "step" + n + "_");
      var label = field.getAttribute("aria-label");
      if (label) { field.setAttribute("aria-label", label.replace(/\d+$/, String(n + 1))); }
      if (field.name === "step" + n + "_id") { field.placeholder = "step" + (n + 1); }
      if (field.tagName === "SELECT") { field.selectedIndex = 0; } else { field.value = ""; }
    });
    list.appendChild(row);
    count.value = String(n + 1);
    row.querySelector("[data-role=step-type]").focus();
  });
})();
