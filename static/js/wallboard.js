/* Wallboard: one EventSource on the supervision stream (snapshot / delta / tick),
   keyed rows updated in place, timers from the server clock, colour cues always
   with a text label, and the supervisor's actions per agent row. */
(function () {
  "use strict";

  var STATE_ORDER = { in_call: 0, ringing: 1, wrap_up: 2, ready: 3, paused: 4, problem: 5, logged_out: 6 };
  var SUPERVISION = ["listen", "whisper", "barge", "take_over"];
  var OTHER_ACTIONS = ["message", "force_pause", "force_logout"];

  function fmtDuration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }

  function fmtPercent(value) {
    return (Math.round(value * 10) / 10).toLocaleString(document.documentElement.lang || "fr") + " %";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function Wallboard(root) {
    this.root = root;
    this.labels = JSON.parse(root.getAttribute("data-labels"));
    this.longPause = Number(root.getAttribute("data-long-pause-s"));
    this.longCall = Number(root.getAttribute("data-long-call-s"));
    this.actionUrl = root.getAttribute("data-action-url");
    this.leadUrl = root.getAttribute("data-lead-url");
    this.agents = {};
    this.campaigns = {};
    this.rows = {};
    this.offset = 0;
    this.status = document.getElementById("wb-status");
    this.agentBody = root.querySelector("#wb-agents");
    this.campaignBody = root.querySelector("#wb-campaigns");
    this.queues = {};
    this.queueBody = root.querySelector("#wb-queues");
    this.feedback = root.querySelector("#wb-feedback");
    this.connect();
    var self = this;
    this.timer = window.setInterval(function () { self.tick(); }, 1000);
    this.agentBody.addEventListener("click", function (evt) { self.onClick(evt); });
  }

  Wallboard.prototype.connect = function () {
    var self = this;
    this.source = new EventSource(this.root.getAttribute("data-stream-url"));
    this.source.addEventListener("open", function () { self.setConnected(true); });
    this.source.addEventListener("error", function () { self.setConnected(false); });
    this.source.addEventListener("snapshot", function (evt) { self.onSnapshot(JSON.parse(evt.data)); });
    this.source.addEventListener("delta", function (evt) { self.onDelta(JSON.parse(evt.data)); });
    this.source.addEventListener("tick", function (evt) { self.clock(JSON.parse(evt.data).now); });
  };

  Wallboard.prototype.close = function () {
    if (this.source) this.source.close();
    window.clearInterval(this.timer);
  };

  Wallboard.prototype.setConnected = function (up) {
    if (this.status) this.status.classList.toggle("is-disconnected", !up);
  };

  Wallboard.prototype.clock = function (serverNow) {
    this.offset = serverNow - Date.now() / 1000;
    this.setConnected(true);
  };

  Wallboard.prototype.now = function () { return Date.now() / 1000 + this.offset; };

  Wallboard.prototype.onSnapshot = function (data) {
    this.clock(data.now);
    var self = this;
    this.agents = {};
    data.agents.forEach(function (a) { self.agents[a.id] = a; });
    this.campaigns = {};
    data.campaigns.forEach(function (c) { self.campaigns[c.id] = c; });
    this.renderAgents(true);
    this.renderCampaigns();
    this.queues = {};
    (data.queues || []).forEach(function (q) { self.queues[q.id] = q; });
    this.renderQueues();
    this.renderTiles();
    this.root.dispatchEvent(new CustomEvent("wallboard:update", { detail: { kind: "snapshot", now: data.now } }));
  };

  Wallboard.prototype.onDelta = function (data) {
    this.clock(data.now);
    var reorder = false, self = this;
    Object.keys(data.agents).forEach(function (id) {
      var row = data.agents[id], old = self.agents[id];
      if (row === null) { delete self.agents[id]; reorder = true; return; }
      if (!old || old.state !== row.state) reorder = true;
      self.agents[id] = row;
    });
    Object.keys(data.campaigns).forEach(function (id) { self.campaigns[id] = data.campaigns[id]; });
    this.renderAgents(reorder);
    if (Object.keys(data.campaigns).length) this.renderCampaigns();
    var queueIds = Object.keys(data.queues || {});
    queueIds.forEach(function (id) { self.queues[id] = data.queues[id]; });
    if (queueIds.length) { this.renderQueues(); this.renderTiles(); }
    this.root.dispatchEvent(new CustomEvent("wallboard:update", { detail: { kind: "delta", now: data.now, data: data } }));
  };

  Wallboard.prototype.label = function (key, values) {
    var text = this.labels[key] || key;
    Object.keys(values || {}).forEach(function (name) { text = text.replace("{" + name + "}", values[name]); });
    return text;
  };

  Wallboard.prototype.buildRow = function (agent) {
    var tr = el("tr");
    tr.setAttribute("data-agent-id", agent.id);
    var cells = {};
    ["name", "state", "time", "campaign", "lead", "phone", "calls", "pause", "actions"].forEach(function (key) {
      cells[key] = el(key === "name" ? "th" : "td", ["time", "calls"].indexOf(key) >= 0 ? "num" : "");
      tr.appendChild(cells[key]);
    });
    cells.name.setAttribute("scope", "row");
    cells.phone.className = "num nowrap";
    cells.actions.className = "col-actions";
    cells.actions.appendChild(this.buildMenu(agent));
    return { tr: tr, cells: cells, key: null };
  };

  Wallboard.prototype.buildMenu = function (agent) {
    var menu = el("details", "menu");
    var summary = el("summary", "btn btn-ghost btn-sm");
    summary.textContent = "⋯";
    summary.setAttribute("aria-label", this.label("actions_for", { name: agent.name }));
    menu.appendChild(summary);
    var panel = el("div", "menu-panel");
    var self = this;
    SUPERVISION.concat(["-"], OTHER_ACTIONS).forEach(function (action) {
      if (action === "-") { panel.appendChild(el("div", "menu-separator")); return; }
      var button = el("button", "menu-item" + (action === "force_logout" ? " is-danger" : ""), self.label(action));
      button.type = "button";
      button.setAttribute("data-action", action);
      panel.appendChild(button);
    });
    menu.appendChild(panel);
    return menu;
  };

  Wallboard.prototype.updateRow = function (row, agent) {
    var key = [agent.state, agent.since, agent.campaign, agent.lead_id, agent.phone, agent.calls_today,
      agent.pause_name, agent.name].join("|");
    if (row.key === key) return;
    row.key = key;
    var c = row.cells;
    c.name.textContent = agent.name;
    if (agent.virtual) c.name.appendChild(el("span", "cell-sub", this.label("virtual")));
    c.state.textContent = "";
    var badge = el("span", "state state-" + (STATE_ORDER[agent.state] !== undefined ? agent.state : "logged_out"));
    badge.setAttribute("data-state", agent.state);
    badge.appendChild(el("span", "state-dot"));
    badge.appendChild(el("span", "state-label", this.label(agent.state)));
    c.state.appendChild(badge);
    c.state.appendChild(el("span", "badge badge-warning wb-cue"));
    c.campaign.textContent = agent.campaign || "—";
    c.lead.textContent = "";
    if (agent.lead_id && this.leadUrl) {
      var link = el("a", "", "#" + agent.lead_id);
      link.href = this.leadUrl.replace(/\/0$/, "/" + agent.lead_id);
      c.lead.appendChild(link);
    } else {
      c.lead.textContent = agent.lead_id ? "#" + agent.lead_id : "—";
    }
    c.phone.textContent = agent.phone || "—";
    c.calls.textContent = agent.calls_today;
    c.pause.textContent = agent.state === "paused" ? (agent.pause_name || "—") : "";
    row.tr.setAttribute("data-state", agent.state);
    this.updateTimer(row, agent);
  };

  Wallboard.prototype.updateTimer = function (row, agent) {
    var elapsed = this.now() - agent.since;
    row.cells.time.textContent = fmtDuration(elapsed);
    var cue = row.cells.state.querySelector(".wb-cue");
    var text = "";
    var kind = "warning";
    if (agent.state === "paused" && elapsed >= this.longPause) text = this.label("long_pause");
    if (agent.state === "in_call" && elapsed >= this.longCall) { text = this.label("long_call"); kind = "info"; }
    if (cue) {
      cue.textContent = text;
      cue.hidden = !text;
      cue.className = "badge badge-" + kind + " wb-cue";
    }
    row.tr.classList.toggle("is-selected", Boolean(text));
  };

  Wallboard.prototype.renderAgents = function (reorder) {
    var self = this, ids = Object.keys(this.agents);
    Object.keys(this.rows).forEach(function (id) {
      if (!self.agents[id]) { self.rows[id].tr.remove(); delete self.rows[id]; }
    });
    ids.forEach(function (id) {
      if (!self.rows[id]) { self.rows[id] = self.buildRow(self.agents[id]); reorder = true; }
      self.updateRow(self.rows[id], self.agents[id]);
    });
    if (reorder) {
      ids.sort(function (a, b) {
        var x = self.agents[a], y = self.agents[b];
        return (STATE_ORDER[x.state] || 9) - (STATE_ORDER[y.state] || 9) || x.name.localeCompare(y.name);
      });
      var frag = document.createDocumentFragment();
      ids.forEach(function (id) { frag.appendChild(self.rows[id].tr); });
      this.agentBody.textContent = "";
      this.agentBody.appendChild(frag);
      if (!ids.length) {
        var tr = el("tr"), td = el("td", "muted", this.label("none"));
        td.colSpan = 9;
        tr.appendChild(td);
        this.agentBody.appendChild(tr);
      }
    }
    this.renderTiles();
  };

  Wallboard.prototype.renderCampaigns = function () {
    var self = this, body = this.campaignBody;
    var list = Object.keys(this.campaigns).map(function (id) { return self.campaigns[id]; });
    list.sort(function (a, b) { return a.name.localeCompare(b.name); });
    body.textContent = "";
    if (!list.length) {
      var tr0 = el("tr"), td0 = el("td", "muted", this.label("no_campaign"));
      td0.colSpan = 14;
      tr0.appendChild(td0);
      body.appendChild(tr0);
    }
    list.forEach(function (c) {
      var tr = el("tr");
      tr.setAttribute("data-campaign-id", c.id);
      var name = el("th", "", c.name);
      name.setAttribute("scope", "row");
      tr.appendChild(name);
      [c.agents, c.ready, c.paused, c.in_call, c.dialling, c.waiting, c.dial_level.toFixed(2), c.dialable,
        fmtPercent(c.answer_rate), c.calls_today].forEach(function (value) { tr.appendChild(el("td", "num", value)); });
      tr.appendChild(self.abandonCell(Math.max(c.abandon_today, c.abandon_live), c.target, c.level));
      tr.appendChild(self.abandonCell(c.abandon_30d, c.target, c.level_30d));
      tr.appendChild(el("td", "num", c.blocks_today));
      body.appendChild(tr);
    });
    this.renderTiles();
  };

  /* Inbound queues: waiting now, longest wait (a live timer), today's answered /
     abandoned / overflowed, service level (answered within the threshold). */
  Wallboard.prototype.renderQueues = function () {
    var self = this, body = this.queueBody;
    if (!body) return;
    var list = Object.keys(this.queues).map(function (id) { return self.queues[id]; });
    list.sort(function (a, b) { return a.name.localeCompare(b.name); });
    body.textContent = "";
    if (!list.length) {
      var tr0 = el("tr"), td0 = el("td", "muted", this.label("no_queue"));
      td0.colSpan = 10;
      tr0.appendChild(td0);
      body.appendChild(tr0);
      return;
    }
    list.forEach(function (q) {
      var tr = el("tr");
      tr.setAttribute("data-queue-id", q.id);
      var name = el("th", "", q.name);
      name.setAttribute("scope", "row");
      tr.appendChild(name);
      var waiting = el("td", "num", q.waiting);
      if (q.waiting > 0 && q.ready === 0) {
        waiting.appendChild(document.createTextNode(" "));
        waiting.appendChild(el("span", "badge badge-warning", self.label("no_agent_ready")));
      }
      tr.appendChild(waiting);
      var longest = el("td", "num nowrap", "—");
      longest.setAttribute("data-longest", "");
      tr.appendChild(longest);
      tr.appendChild(el("td", "num", q.ready + " / " + q.agents));
      [q.offered, q.answered, q.abandoned, q.overflowed].forEach(function (v) { tr.appendChild(el("td", "num", v)); });
      var sl = el("td", "num nowrap", q.service_level === null ? "—" : fmtPercent(q.service_level));
      sl.title = self.label("within", { s: q.service_level_s });
      if (q.service_level !== null && q.service_level < 80) {
        sl.appendChild(document.createTextNode(" "));
        sl.appendChild(el("span", "badge badge-" + (q.service_level < 60 ? "danger" : "warning"), self.label("below_sl")));
      }
      tr.appendChild(sl);
      tr.appendChild(el("td", "num", q.average_wait_s === null ? "—" : fmtDuration(q.average_wait_s)));
      body.appendChild(tr);
    });
    this.updateQueueTimers();
  };

  Wallboard.prototype.updateQueueTimers = function () {
    var self = this;
    if (!this.queueBody) return;
    Object.keys(this.queues).forEach(function (id) {
      var q = self.queues[id];
      var cell = self.queueBody.querySelector('tr[data-queue-id="' + id + '"] [data-longest]');
      if (!cell) return;
      var wait = q.waiting > 0 && q.oldest_since ? self.now() - q.oldest_since : null;
      cell.textContent = wait === null ? "—" : fmtDuration(wait);
      if (wait !== null && wait > q.service_level_s) {
        cell.appendChild(document.createTextNode(" "));
        cell.appendChild(el("span", "badge badge-warning", self.label("over_sl", { s: q.service_level_s })));
      }
    });
  };

  Wallboard.prototype.abandonCell = function (rate, target, level) {
    var td = el("td", "num nowrap", fmtPercent(rate));
    if (level === "warn" || level === "alert") {
      td.appendChild(document.createTextNode(" "));
      td.appendChild(el("span", "badge badge-" + (level === "alert" ? "danger" : "warning"),
        this.label(level === "alert" ? "over_target" : "near_target")));
    }
    td.title = this.label("target", { t: fmtPercent(target) });
    return td;
  };

  Wallboard.prototype.tile = function (name, value, sub, level) {
    var tile = this.root.querySelector('[data-tile="' + name + '"]');
    if (!tile) return;
    tile.querySelector("[data-value]").textContent = value;
    tile.querySelector("[data-sub]").textContent = sub || "";
    tile.classList.toggle("is-warn", level === "warn");
    tile.classList.toggle("is-alert", level === "alert");
  };

  Wallboard.prototype.renderTiles = function () {
    var counts = { ready: 0, in_call: 0, paused: 0, logged: 0, longPause: 0 }, self = this;
    Object.keys(this.agents).forEach(function (id) {
      var a = self.agents[id];
      counts.logged += 1;
      if (counts[a.state] !== undefined) counts[a.state] += 1;
      if (a.state === "paused" && self.now() - a.since >= self.longPause) counts.longPause += 1;
    });
    var waiting = 0, worst = null;
    Object.keys(this.campaigns).forEach(function (id) {
      var c = self.campaigns[id];
      waiting += c.waiting;
      c.abandon_shown = Math.max(c.abandon_today, c.abandon_live);
      if (!worst || c.abandon_shown / c.target > worst.abandon_shown / worst.target) worst = c;
    });
    this.tile("agents", counts.ready, this.label("of_logged", { n: counts.logged }));
    this.tile("in_call", counts.in_call, "");
    this.tile("paused", counts.paused, counts.longPause ? counts.longPause + " · " + this.label("long_pause") : "",
      counts.longPause ? "warn" : null);
    Object.keys(this.queues || {}).forEach(function (id) { waiting += self.queues[id].waiting; });
    this.tile("waiting", waiting, "", waiting > 0 ? "warn" : null);
    this.tile("abandon", worst ? fmtPercent(worst.abandon_shown) : "—",
      worst ? worst.name + " · " + this.label("target", { t: fmtPercent(worst.target) }) : "", worst ? worst.level : null);
  };

  Wallboard.prototype.tick = function () {
    if (!document.contains(this.root)) { this.close(); return; }
    var self = this;
    Object.keys(this.rows).forEach(function (id) {
      if (self.agents[id]) self.updateTimer(self.rows[id], self.agents[id]);
    });
    this.updateQueueTimers();
  };

  Wallboard.prototype.onClick = function (evt) {
    var button = evt.target.closest("[data-action]");
    if (!button) return;
    var tr = button.closest("tr");
    var agentId = tr.getAttribute("data-agent-id");
    var agent = this.agents[agentId];
    var action = button.getAttribute("data-action");
    var menu = button.closest("details");
    if (menu) menu.open = false;
    var self = this;
    if (action === "message") {
      this.askMessage().then(function (text) { if (text) self.send(agentId, action, text); });
    } else if (action === "force_logout" && window.Carillon && window.Carillon.confirm) {
      window.Carillon.confirm(this.label("confirm_logout", { name: agent ? agent.name : "" }))
        .then(function (ok) { if (ok) self.send(agentId, action, ""); });
    } else {
      this.send(agentId, action, "");
    }
  };

  Wallboard.prototype.askMessage = function () {
    var dialog = document.getElementById("wb-message-dialog");
    var text = document.getElementById("wb-message-text");
    text.value = "";
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        resolve(dialog.returnValue === "send" ? text.value : "");
      });
      dialog.showModal();
      text.focus();
    });
  };

  Wallboard.prototype.send = function (agentId, action, text) {
    var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    var body = new URLSearchParams();
    body.set("text", text);
    var url = this.actionUrl.replace("/0/", "/" + agentId + "/").replace("ACTION", action);
    var self = this;
    fetch(url, { method: "POST", headers: headers, body: body, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (result) { self.notify(result.ok ? "success" : "error", result.message); })
      .catch(function () { self.notify("error", self.label("network")); });
  };

  Wallboard.prototype.notify = function (category, message) {
    if (this.feedback) this.feedback.textContent = message;
    if (window.Carillon && window.Carillon.showFlash) window.Carillon.showFlash(category, message);
  };

  function init() {
    var root = document.getElementById("wallboard");
    if (!root || root.wallboard) return;
    root.wallboard = new Wallboard(root);
  }

  document.addEventListener("htmx:afterSettle", init);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
