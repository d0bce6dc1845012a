// Vínculo console: the segment rule builder. The page works without it (paste the
// rule's JSON, press Preview); with it, the rule is built from controls, its JSON
// follows (and editing the JSON rebuilds the controls), and the count and a sample
// update as the rule changes (debounced; the console proxies the segments API).
(function () {
  "use strict";
  var root = document.getElementById("rule-builder");
  var area = document.getElementById("rule-json");
  if (!root || !area) { return; }
  var spec = JSON.parse(root.getAttribute("data-spec"));
  var T = spec.texts, L = spec.labels;
  var jsonError = document.getElementById("rule-json-error");
  var countOut = document.getElementById("segment-count");
  var sampleBody = document.querySelector("#segment-sample tbody");
  var lang = document.documentElement.lang || "en";
  var timer = null, sequence = 0;

  function typeOf(field) {
    if (typeof field === "string" && field.indexOf("attributes.") === 0) { return "attribute"; }
    for (var kind in spec.fields) {
      if (spec.fields[kind].indexOf(field) >= 0) { return kind; }
    }
    return "text";
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attrs[key]; } else { node.setAttribute(key, attrs[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }
  function select(role, options, chosen, label) {
    var s = el("select", {"data-role": role, "aria-label": label || role});
    options.forEach(function (o) {
      var value = Array.isArray(o) ? o[0] : o, text = Array.isArray(o) ? o[1] : (L[o] || o);
      var opt = el("option", {value: value, text: text});
      if (String(value) === String(chosen)) { opt.selected = true; }
      s.appendChild(opt);
    });
    return s;
  }
  function input(role, value, attrs) {
    var i = el("input", Object.assign({"data-role": role, "aria-label": (attrs && attrs.label) || T[role] || role}, attrs || {}));
    i.removeAttribute("label");
    i.value = value === undefined || value === null ? "" : value;
    return i;
  }
  function button(text, action, cls) {
    return el("button", {type: "button", "data-action": action, "class": "small " + (cls || ""), text: text});
  }
  function kindOf(node) {
    if (node && typeof node === "object" && !Array.isArray(node)) {
      var keys = Object.keys(node);
      if ("field" in node) { return shownExactly(node) ? "field" : "raw"; }
      if (keys.length === 1 && ["all", "any", "not", "near", "campaign", "mention", "purchases", "consent"].indexOf(keys[0]) >= 0) {
        if ((keys[0] === "all" || keys[0] === "any") && !Array.isArray(node[keys[0]])) { return "raw"; }
        if (!shownExactly(node)) { return "raw"; }
        return keys[0];
      }
    }
    return "raw";
  }
  // A node the controls cannot show as it is (an operator, field or unit they do not
  // offer, a time of day) stays as its JSON: drawn as controls, reading them back would
  // quietly change it.
  function inDays(value) {
    return value === undefined || typeof value === "number" ||
      (value && typeof value === "object" && Object.keys(value).length === 1 && "days" in value);
  }
  function plainDate(value) {
    return typeof value !== "string" || value.length <= 10;
  }
  function shownExactly(node) {
    if ("field" in node) {
      var type = typeOf(node.field);
      if (type !== "attribute" && !spec.fields[type]) { return false; }
      if (type !== "attribute" && spec.fields[type].indexOf(node.field) < 0) { return false; }
      if (spec.ops[type].indexOf(node.op) < 0) { return false; }
      if (type === "date") {
        var values = Array.isArray(node.value) ? node.value : [node.value];
        return values.every(plainDate);
      }
      return true;
    }
    if ("campaign" in node) {
      var cw = node.campaign || {};
      return cw.within_days === undefined || cw.within_days === null || inDays(cw.within_days);
    }
    if ("mention" in node) {
      var m = node.mention || {};
      return (m.sentiment === undefined || m.sentiment === "negative") && inDays(m.days);
    }
    if ("purchases" in node) {
      var p = node.purchases || {};
      return inDays(p.days) && ["count", "total"].every(function (key) {
        return !(p[key] && typeof p[key] === "object") || Object.keys(p[key]).length <= 1;
      });
    }
    return true;
  }
  function unitOf(value) {  // {"days": 30} -> ["days", 30]
    if (typeof value === "number") { return ["days", value]; }
    if (value && typeof value === "object" && Object.keys(value).length === 1) {
      var unit = Object.keys(value)[0];
      return [unit, value[unit]];
    }
    return ["days", ""];
  }
  function num(text) {
    var n = Number(String(text).trim().replace(",", "."));
    return String(text).trim() === "" || isNaN(n) ? text : n;
  }

  // --- rendering: rule -> controls -----------------------------------------

  function render(node, path) {
    var kind = kindOf(node);
    var box = el("div", {"class": "rule-node " + kind, "data-kind": kind, "data-path": path});
    if (kind === "all" || kind === "any") {
      var head = el("div", {"class": "rule-head"}, [
        select("group", [["all", T.all_of], ["any", T.any_of]], kind, T.kind),
        button(T.add_condition, "add-condition"), button(T.add_group, "add-group"),
        button(T.negate, "negate"), path === "rule" ? null : button(T.remove, "remove", "danger")]);
      var list = el("div", {"class": "rule-children"});
      node[kind].forEach(function (child, i) { list.appendChild(render(child, path + "." + kind + "." + i)); });
      box.appendChild(head);
      box.appendChild(el("div", {"class": "node-errors"}));
      box.appendChild(list);
      return box;
    }
    if (kind === "not") {
      box.appendChild(el("div", {"class": "rule-head"}, [el("strong", {text: T.none_of}),
        button(T.negate, "unnegate"), path === "rule" ? null : button(T.remove, "remove", "danger")]));
      box.appendChild(el("div", {"class": "node-errors"}));
      box.appendChild(el("div", {"class": "rule-children"}, [render(node.not, path + ".not")]));
      return box;
    }
    var row = el("div", {"class": "rule-row"});
    row.appendChild(select("kind", spec.kinds.concat(kind === "raw" ? ["raw"] : []), kind, T.kind));
    if (kind === "field") { leafField(row, node); }
    if (kind === "near") {  // a place searched by name; its coordinates stay editable, folded away
      var search = el("span", {"class": "place-search"});
      search.appendChild(input("place", placeNames[node.near.lat + "," + node.near.lng] || "",
        {type: "search", autocomplete: "off", label: T.place, placeholder: T.place_hint}));
      search.appendChild(el("ul", {"class": "place-results", "data-role": "place-results", role: "listbox", hidden: ""}));
      row.appendChild(search);
      row.appendChild(el("span", {"class": "muted", text: T.within}));
      row.appendChild(input("km", node.near.km, {type: "number", step: "any", min: "0", label: T.km, placeholder: T.km}));
      row.appendChild(el("span", {"class": "muted", text: T.km}));
      row.appendChild(el("details", {"class": "coords"}, [
        el("summary", {text: T.coordinates + ": " + node.near.lat + ", " + node.near.lng}),
        input("lat", node.near.lat, {type: "number", step: "any", label: T.lat, placeholder: T.lat}),
        input("lng", node.near.lng, {type: "number", step: "any", label: T.lng, placeholder: T.lng})]));
    }
    if (kind === "campaign") {
      var cid = (node.campaign || {}).campaign_id, known = [["", T.any_campaign]].concat(spec.campaigns || []);
      if (cid && !known.some(function (c) { return c[0] === cid; })) { known.push([cid, cid]); }
      row.appendChild(select("event", spec.events, (node.campaign || {}).event, T.event));
      row.appendChild(select("campaign_id", known, cid || "", T.campaign));
      var within = (node.campaign || {}).within_days;
      row.appendChild(input("within_days", within === undefined || within === null ? "" : unitOf(within)[1],
        {type: "number", min: "1", label: T.within_days, placeholder: T.within_days}));
    }
    if (kind === "mention") {
      row.appendChild(el("span", {"class": "muted", text: L.negative || "negative"}));
      row.appendChild(input("days", unitOf((node.mention || {}).days)[1], {type: "number", min: "1", placeholder: T.days}));
    }
    if (kind === "purchases") {
      var p = node.purchases || {};
      ["count", "total"].forEach(function (key) {
        var th = p[key] && typeof p[key] === "object" ? p[key] : {};
        var op = Object.keys(th)[0] || "gte";
        row.appendChild(el("span", {"class": "muted", text: T[key]}));
        row.appendChild(select(key + "_op", spec.thresholds, op, T[key]));
        row.appendChild(input(key, op in th ? th[op] : "", {type: "number", step: "any", label: T[key]}));
      });
      row.appendChild(input("days", "days" in p ? unitOf(p.days)[1] : "", {type: "number", min: "1", placeholder: T.days}));
    }
    if (kind === "consent") {
      row.appendChild(select("channel", spec.channels, (node.consent || {}).channel, T.channel));
      row.appendChild(select("topic", spec.topics, (node.consent || {}).topic, T.topic));
    }
    if (kind === "raw") {
      var raw = el("textarea", {"data-role": "raw", "class": "code", rows: "2", "aria-label": T.raw});
      raw.value = JSON.stringify(node);
      row.appendChild(raw);
    }
    row.appendChild(button(T.negate, "negate"));
    if (path !== "rule") { row.appendChild(button(T.remove, "remove", "danger")); }
    box.appendChild(row);
    box.appendChild(el("div", {"class": "node-errors"}));
    return box;
  }

  function leafField(row, node) {
    var field = node.field, type = typeOf(field), fields = [];
    Object.keys(spec.fields).forEach(function (k) {
      spec.fields[k].forEach(function (f) { fields.push([f, spec.field_labels[f] || f]); });
    });
    fields.push(["attributes.", T.attribute]);
    row.appendChild(select("field", fields, type === "attribute" ? "attributes." : field, T.field));
    if (type === "attribute") {
      row.appendChild(input("attribute", field.slice("attributes.".length), {placeholder: T.attribute_name}));
    }
    var ops = spec.ops[type];
    var op = ops.indexOf(node.op) >= 0 ? node.op : ops[0];
    row.setAttribute("data-op", op);
    row.setAttribute("data-type", type);
    var words = spec.op_labels[type] || {};
    row.appendChild(select("op", ops.map(function (o) { return [o, words[o] || L[o] || o]; }), op, T.operator));
    var value = node.value;
    if (op === "exists") {
      row.appendChild(select("value", [["true", T.yes], ["false", T.no]], value === false ? "false" : "true", T.value));
    } else if (op === "within_last" || op === "more_than_ago") {
      var u = unitOf(value);
      row.appendChild(input("amount", u[1], {type: "number", min: "1", label: T.value}));
      row.appendChild(select("unit", spec.units, u[0], T.value));
    } else if (op === "between") {
      var pair = Array.isArray(value) ? value : ["", ""];
      row.appendChild(valueControl(type, field, pair[0], "low"));
      row.appendChild(valueControl(type, field, pair[1], "high"));
    } else if (op === "in" || op === "nin" || op === "all") {
      row.appendChild(chips("list", Array.isArray(value) ? value : (value === undefined || value === "" ? [] : [value]),
                            type === "list" ? T.tag_hint : T.chip_hint));
    } else {
      row.appendChild(valueControl(type, field, value, "value"));
    }
  }

  // A list of values as chips: type one and press Enter (or a comma); x removes it.
  function chip(value) {
    return el("span", {"class": "chip value-chip", "data-value": String(value)}, [
      el("span", {text: String(value)}),
      el("button", {type: "button", "class": "chip-remove", "data-action": "remove-chip",
                    "aria-label": T.remove + ": " + value, text: "×"})]);
  }
  function chips(role, values, hint) {
    var wrap = el("span", {"class": "chips", "data-role": role, "data-chips": "1"});
    values.forEach(function (v) { wrap.appendChild(chip(v)); });
    wrap.appendChild(el("input", {"data-role": "chip-entry", "aria-label": hint, placeholder: hint}));
    return wrap;
  }
  function chipValues(wrap) {
    var values = Array.prototype.map.call(wrap.querySelectorAll(".value-chip"), function (c) {
      return c.getAttribute("data-value");
    });
    wrap.querySelector('[data-role="chip-entry"]').value.split(",").forEach(function (s) {
      if (s.trim()) { values.push(s.trim()); }
    });
    return values;
  }
  function commitEntry(entry) {
    var wrap = entry.closest(".chips");
    entry.value.split(",").forEach(function (s) {
      if (s.trim() && chipValues(wrap).filter(function (v) { return v === s.trim(); }).length < 2) {
        wrap.insertBefore(chip(s.trim()), entry);
      }
    });
    entry.value = "";
  }

  function valueControl(type, field, value, role) {
    if (type === "bool") {
      return select(role, [["true", T.yes], ["false", T.no]], value === false ? "false" : "true", T.value);
    }
    if (field === "stage") { return select(role, spec.stages, value, T.value); }
    if (type === "date") {  // an absolute date, or N units ago
      var relative = value && typeof value === "object" && "ago" in value;
      var wrap = el("span", {"class": "date-value", "data-role": role, "data-date": "1"});
      wrap.appendChild(select("mode", [["date", T.on_date], ["ago", T.relative]], relative ? "ago" : "date", T.date));
      if (relative) {
        var u = unitOf(value.ago);
        wrap.appendChild(input("amount", u[1], {type: "number", min: "1", label: T.value}));
        wrap.appendChild(select("unit", spec.units, u[0], T.value));
        wrap.appendChild(el("span", {"class": "muted", text: T.ago}));
      } else {
        wrap.appendChild(input("date", typeof value === "string" ? value.slice(0, 10) : "", {type: "date", label: T.date}));
      }
      return wrap;
    }
    return input(role, value, {type: type === "number" ? "number" : "text", step: "any", label: T.value});
  }

  // --- reading: controls -> rule ------------------------------------------

  function own(box, role) {  // the control of this node (not of a nested one)
    var found = null;
    box.querySelectorAll('[data-role="' + role + '"]').forEach(function (c) {
      if (!found && c.closest(".rule-node") === box) { found = c; }
    });
    return found;
  }
  function convert(type, text) {
    if (type === "number") { return num(text); }
    if (type === "bool") { return text === "true"; }
    // A leading zero or plus sign makes a code (a postal code, a phone number), not a number:
    // imported, "08001" is stored as that text, and 8001 would never match it.
    if (type === "attribute") { return /^\s*(0\d|\+)/.test(String(text)) ? text : num(text); }
    return text;
  }
  function readValue(control, type) {
    if (control.getAttribute("data-date")) {
      var mode = control.querySelector('[data-role="mode"]').value;
      if (mode === "ago") {
        var amount = control.querySelector('[data-role="amount"]'), unit = control.querySelector('[data-role="unit"]');
        var ago = {};
        ago[unit ? unit.value : "days"] = num(amount ? amount.value : "");
        return {ago: ago};
      }
      var date = control.querySelector('[data-role="date"]');
      return date ? date.value : "";
    }
    return convert(type, control.value);
  }
  function shapeOf(op) {
    if (op === "exists") { return "exists"; }
    if (op === "within_last" || op === "more_than_ago") { return "relative"; }
    if (op === "between") { return "pair"; }
    if (op === "in" || op === "nin" || op === "all") { return "list"; }
    return "one";
  }
  function read(box) {
    var kind = box.getAttribute("data-kind");
    if (kind === "all" || kind === "any") {
      var group = own(box, "group").value, out = {};
      out[group] = Array.prototype.filter.call(box.querySelector(".rule-children").children,
        function (c) { return c.classList.contains("rule-node"); }).map(read);
      return out;
    }
    if (kind === "not") { return {not: read(box.querySelector(".rule-children > .rule-node"))}; }
    if (kind === "raw") {
      var text = own(box, "raw").value;
      try { return JSON.parse(text); } catch (e) { return text; }
    }
    if (kind === "near") {
      return {near: {lat: num(own(box, "lat").value), lng: num(own(box, "lng").value), km: num(own(box, "km").value)}};
    }
    if (kind === "campaign") {
      var c = {event: own(box, "event").value}, id = own(box, "campaign_id").value.trim();
      var within = own(box, "within_days").value.trim();
      if (id) { c.campaign_id = id; }
      if (within) { c.within_days = num(within); }
      return {campaign: c};
    }
    if (kind === "mention") { return {mention: {sentiment: "negative", days: num(own(box, "days").value)}}; }
    if (kind === "purchases") {
      var p = {};
      ["count", "total"].forEach(function (key) {
        var v = own(box, key).value;
        if (v.trim() !== "") { p[key] = {}; p[key][own(box, key + "_op").value] = num(v); }
      });
      var days = own(box, "days").value;
      if (days.trim() !== "") { p.days = num(days); }
      return {purchases: p};
    }
    if (kind === "consent") { return {consent: {channel: own(box, "channel").value, topic: own(box, "topic").value}}; }
    // a field comparison
    var field = own(box, "field").value;
    if (field === "attributes.") { field += (own(box, "attribute") || {value: ""}).value.trim(); }
    var type = typeOf(field), op = own(box, "op").value;
    // A new field whose type has not the operator shown (tags have no "is"): its first operator,
    // not a node the controls cannot show (that turned a tags condition into raw JSON).
    if (spec.ops[type] && spec.ops[type].indexOf(op) < 0) { op = spec.ops[type][0]; }
    var shown = box.querySelector(".rule-row").getAttribute("data-op") || op, value;
    // The controls on screen are the ones of the operator drawn (``shown``); a newly chosen
    // operator keeps the value when it has the same shape, else starts from a default.
    if (shown === "exists") { value = own(box, "value").value === "true"; }
    else if (shown === "within_last" || shown === "more_than_ago") {
      value = {};
      value[own(box, "unit").value] = num(own(box, "amount").value);
    } else if (shown === "between") {
      value = [readValue(own(box, "low"), type), readValue(own(box, "high"), type)];
    } else if (shown === "in" || shown === "nin" || shown === "all") {
      value = chipValues(own(box, "list")).map(function (s) { return convert(type, s); });
    } else {
      value = readValue(own(box, "value"), type);
    }
    var from = shapeOf(shown), to = shapeOf(op);
    if (from !== to) {
      if (to === "exists") { value = true; }
      else if (to === "relative") { value = {days: 30}; }
      else if (to === "list") { value = from === "one" && value !== "" ? [value] : from === "pair" ? value.filter(function (v) { return v !== ""; }) : []; }
      else if (to === "pair") { value = [from === "one" ? value : from === "list" && value.length ? value[0] : "", ""]; }
      else { value = (from === "list" || from === "pair") && value.length ? value[0] : ""; }
    }
    var drawn = box.querySelector(".rule-row").getAttribute("data-type");
    if (drawn && drawn !== type) {  // another kind of field: "ES" is no tag, start empty
      value = {exists: true, relative: {days: 30}, list: [], pair: ["", ""], one: ""}[to];
    }
    var node = {field: field, op: op, value: value};
    return node;
  }

  // --- both ways, errors and the live count ---------------------------------

  var rule = null;
  var placeNames = {};  // "lat,lng" -> the place's name, to show it again when the controls are redrawn
  function draw() {
    root.innerHTML = "";
    root.appendChild(render(rule, "rule"));
  }
  function toJson() { area.value = JSON.stringify(rule, null, 2); }

  function showErrors(placed) {
    root.querySelectorAll(".node-errors").forEach(function (box) { box.innerHTML = ""; });
    root.querySelectorAll(".rule-node.bad").forEach(function (n) { n.classList.remove("bad"); });
    Object.keys(placed || {}).forEach(function (path) {
      var node = root.querySelector('.rule-node[data-path="' + path + '"]') || root.querySelector(".rule-node");
      var box = node.querySelector(".node-errors");
      node.classList.add("bad");
      placed[path].forEach(function (message) {
        box.appendChild(el("p", {"class": "field-error", role: "alert", "data-field": path, text: message}));
      });
    });
  }

  function preview() {
    var mine = ++sequence;
    countOut.textContent = T.counting;
    fetch(root.getAttribute("data-preview-url"), {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRF-Token": root.getAttribute("data-csrf")},
      body: JSON.stringify({rule: rule})
    }).then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (answer) {
        if (mine !== sequence) { return; }  // an older answer: a newer rule is being counted
        if (!answer.ok) {
          countOut.textContent = "—";
          sampleBody.innerHTML = "";
          showErrors(answer.body.placed || {rule: [answer.body.message]});
          return;
        }
        showErrors({});
        countOut.textContent = answer.body.count.toLocaleString(lang);
        sampleBody.innerHTML = "";
        answer.body.sample.forEach(function (c) {
          sampleBody.appendChild(el("tr", {}, [el("td", {text: c.name || ""}),
            el("td", {"data-email": "", text: c.email || "—"}), el("td", {text: c.country || "—"}),
            el("td", {text: c.city || "—"})]));
        });
      }).catch(function () { if (mine === sequence) { countOut.textContent = "—"; } });
  }
  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(preview, 400);
  }

  function changed(redraw) {
    rule = read(root.querySelector(".rule-node"));
    if (redraw) { draw(); }
    toJson();
    jsonError.hidden = true;
    later();
  }

  root.addEventListener("input", function (event) {
    var role = event.target.getAttribute("data-role");
    if (role === "place") { searchPlaces(event.target); return; }
    if (event.target.tagName === "INPUT" || event.target.tagName === "TEXTAREA") { changed(false); }
  });
  root.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== ",") { return; }
    var role = event.target.getAttribute("data-role");
    if (role === "chip-entry") {
      event.preventDefault();
      commitEntry(event.target);
      changed(false);
      event.target.focus();
    } else if (role === "place") {
      event.preventDefault();  // Enter picks the first place found, it does not submit the form
      if (event.key === "Enter") {
        var first = event.target.closest(".place-search").querySelector("[data-place]");
        if (first) { pickPlace(first); }
      }
    }
  });
  root.addEventListener("focusout", function (event) {
    if (event.target.getAttribute("data-role") === "chip-entry" && event.target.value.trim()) {
      commitEntry(event.target);
      changed(false);
    }
  });

  // Place search: cities the customers live in (the segments API's /places, through the console).
  var placeTimer = null, placeSequence = 0;
  function searchPlaces(field) {
    window.clearTimeout(placeTimer);
    placeTimer = window.setTimeout(function () {
      var mine = ++placeSequence, list = field.closest(".place-search").querySelector(".place-results");
      var q = field.value.trim();
      if (!q) { list.hidden = true; return; }
      fetch(root.getAttribute("data-places-url") + "?q=" + encodeURIComponent(q),
            {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (mine !== placeSequence) { return; }
          list.innerHTML = "";
          (body.items || []).forEach(function (p) {
            var name = p.city + (p.country ? " (" + p.country + ")" : "");
            list.appendChild(el("li", {}, [el("button", {type: "button", "data-place": name, "data-lat": p.lat,
              "data-lng": p.lng, text: name + " · " + p.count.toLocaleString(lang) + " " + T.people})]));
          });
          if (!(body.items || []).length) { list.appendChild(el("li", {"class": "muted", text: body.message || T.no_places})); }
          list.hidden = false;
        }).catch(function () { list.hidden = true; });
    }, 250);
  }
  function pickPlace(button) {
    var box = button.closest(".rule-node");
    own(box, "lat").value = button.getAttribute("data-lat");
    own(box, "lng").value = button.getAttribute("data-lng");
    placeNames[num(button.getAttribute("data-lat")) + "," + num(button.getAttribute("data-lng"))] = button.getAttribute("data-place");
    changed(true);
  }
  function blank() { return {field: "country", op: "eq", value: ""}; }
  function defaultOf(kind) {
    return {field: blank(), near: {near: {lat: 40.4168, lng: -3.7038, km: 25}},
            campaign: {campaign: {event: "opened"}}, mention: {mention: {sentiment: "negative", days: 30}},
            purchases: {purchases: {count: {gte: 1}, days: 90}},
            consent: {consent: {channel: spec.channels[0], topic: spec.topics[0]}}}[kind] || blank();
  }
  root.addEventListener("change", function (event) {
    if (event.target.tagName !== "SELECT") { return; }
    if (event.target.getAttribute("data-role") === "kind") {  // a new kind of condition starts from its default
      var box = event.target.closest(".rule-node");
      box.replaceWith(render(defaultOf(event.target.value), box.getAttribute("data-path")));
    }
    changed(true);  // a new field, operator or kind: new controls
  });

  root.addEventListener("click", function (event) {
    var picked = event.target.closest("[data-place]");
    if (picked) { event.preventDefault(); pickPlace(picked); return; }
    var action = event.target.getAttribute("data-action");
    if (!action) { return; }
    event.preventDefault();
    var box = event.target.closest(".rule-node");
    if (action === "remove-chip") {
      event.target.closest(".value-chip").remove();
    } else if (action === "add-condition" || action === "add-group") {
      var child = action === "add-condition" ? blank() : {any: [blank()]};
      box.querySelector(".rule-children").appendChild(render(child, box.getAttribute("data-path") + ".new"));
    } else if (action === "remove") {
      var parent = box.parentElement.closest(".rule-node");
      box.remove();
      if (parent && parent.getAttribute("data-kind") !== "not" &&
          !parent.querySelector(".rule-children > .rule-node")) {
        parent.querySelector(".rule-children").appendChild(render(blank(), "new"));
      } else if (parent && parent.getAttribute("data-kind") === "not") {
        parent.replaceWith(render(blank(), parent.getAttribute("data-path")));
      }
    } else if (action === "negate") {
      var current = read(box);
      box.replaceWith(render({not: current}, box.getAttribute("data-path")));
    } else if (action === "unnegate") {
      box.replaceWith(render(read(box).not, box.getAttribute("data-path")));
    }
    changed(true);
  });

  // Editing the JSON rebuilds the controls (when it parses).
  area.addEventListener("input", function () {
    try {
      rule = JSON.parse(area.value);
    } catch (e) {
      jsonError.textContent = T.invalid_json.replace("{error}", e.message);
      jsonError.hidden = false;
      return;
    }
    jsonError.hidden = true;
    draw();
    later();
  });

  // Static segments have no rule: hide what is about the rule.
  var form = document.getElementById("segment-form");
  form.classList.add("js");
  function kindShown() {
    var chosen = form.querySelector('input[name="kind"]:checked');
    form.classList.toggle("static", !!chosen && chosen.value === "static");
  }
  form.querySelectorAll('input[name="kind"]').forEach(function (r) { r.addEventListener("change", kindShown); });
  kindShown();

  var jsonView = document.getElementById("rule-json-view");
  if (jsonView) { jsonView.open = false; }  // the controls say it all; the JSON is the advanced view
  try { rule = JSON.parse(area.value); } catch (e) { rule = {all: [blank()]}; }
  draw();
  root.hidden = false;
  var outline = document.getElementById("rule-outline");
  if (outline) { outline.hidden = true; }
  preview();  // the count now (and the rule's errors at their nodes, if any)
})();
