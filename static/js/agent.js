/*
 * Agent workspace: display-only helpers. The server is the source of truth: every
 * state, call and disposition arrives as a server-rendered fragment over SSE
 * (htmx SSE extension). Nothing here decides a state; the timers below only show
 * elapsed time since the server's "since", so a throttled background tab merely
 * shows a stale clock until it is visible again.
 */
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clock(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var h = Math.floor(s / 3600);
    var text = pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
    return h ? h + ":" + text : text;
  }

  /* Seconds since the server rendered ``el`` with its elapsed time: counted from
     when this page received it, never from the browser's own clock. */
  function elapsed(el, attr) {
    var base = parseFloat(el.getAttribute(attr));
    if (isNaN(base)) return NaN;
    if (!el.hasAttribute("data-received")) el.setAttribute("data-received", String(Date.now()));
    return base + (Date.now() - parseFloat(el.getAttribute("data-received"))) / 1000;
  }

  function tick() {
    document.querySelectorAll("[data-elapsed]").forEach(function (el) {
      var seconds = elapsed(el, "data-elapsed");
      if (!isNaN(seconds)) el.textContent = clock(seconds);
    });
    document.querySelectorAll("[data-countdown-elapsed]").forEach(function (el) {
      var seconds = elapsed(el, "data-countdown-elapsed");
      var target = parseFloat(el.getAttribute("data-countdown-target")) || 30;
      if (isNaN(seconds)) return;
      var left = target - seconds;
      var value = el.querySelector("[data-countdown-value]");
      var bar = el.querySelector("[data-countdown-bar]");
      if (value) value.textContent = (left < 0 ? "-" : "") + clock(Math.abs(left));
      if (bar) bar.style.width = Math.max(0, Math.min(100, 100 * left / target)) + "%";
      el.classList.toggle("is-overdue", left < 0);
    });
  }

  function csrfHeaders() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (e) {
      return {};
    }
  }

  /* While the stream is down (network drop, server restart) the SSE extension
     reconnects on its own; a plain POST keeps the presence meanwhile. */
  function beatWhileDisconnected(evt) {
    var root = document.getElementById("agent-workspace");
    if (!root || !evt.target || evt.target !== root) return;
    var url = root.getAttribute("data-heartbeat-url");
    if (url) fetch(url, { method: "POST", headers: csrfHeaders(), credentials: "same-origin" }).catch(function () {});
  }

  /* For tests and diagnostics: when each named fragment last arrived. */
  function recordSwap(evt) {
    var root = document.getElementById("agent-workspace");
    if (!root || !evt.detail || !evt.detail.type) return;
    root.setAttribute("data-swapped-" + evt.detail.type, String(Date.now()));
  }

  /* Card payment: pause / resume the call's recording (JSON endpoints of the
     recordings feature). The button shows the server's answer, never a guess. */
  function togglePaymentPause(evt) {
    var button = evt.target.closest ? evt.target.closest("[data-payment-pause]") : null;
    if (!button || button.disabled) return;
    var paused = button.getAttribute("aria-pressed") === "true";
    var url = button.getAttribute(paused ? "data-resume-url" : "data-pause-url");
    var status = button.parentNode.querySelector("[data-payment-status]");
    button.disabled = true;
    fetch(url, { method: "POST", headers: csrfHeaders(), credentials: "same-origin" })
      .then(function (response) { return response.json().catch(function () { return {}; }); })
      .then(function (body) {
        if (body.success) {
          var nowPaused = !!body.paused;
          button.setAttribute("aria-pressed", nowPaused ? "true" : "false");
          button.querySelector("[data-payment-label]").textContent =
            button.getAttribute(nowPaused ? "data-label-resume" : "data-label-pause");
          if (status) {
            status.textContent = nowPaused ? button.getAttribute("data-status-paused") : "";
            status.hidden = !nowPaused;
          }
        } else if (status) {
          status.textContent = body.error || "";
          status.hidden = !body.error;
        }
      })
      .catch(function () {})
      .then(function () { button.disabled = false; });
  }

  if (window.carillonAgent) return;  // a boosted navigation may load this twice
  window.carillonAgent = true;
  window.setInterval(tick, 1000);
  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("htmx:sseError", beatWhileDisconnected);
  document.addEventListener("htmx:sseMessage", recordSwap);
  document.addEventListener("click", togglePaymentPause);
})();
