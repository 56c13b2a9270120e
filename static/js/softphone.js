/*
 * The in-browser softphone (A1): JsSIP over WebSocket with short-lived credentials
 * issued by the application, auto-answer of the agent's persistent leg, mute, hold,
 * DTMF, volume, microphone level and device choice, and recovery after a network
 * drop. Its registration state is reported to the server, which decides whether
 * calls may reach this agent. Without a SIP server (demo on the simulated backend)
 * it says so and only drives the local audio devices.
 */
(function () {
  "use strict";

  var root, audio, ua = null, session = null, inputId = "", micStream = null, meterTimer = null;
  var mode = "simulation", reporting = null;

  function headers(extra) {
    var h = {};
    try { h = JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { h = {}; }
    Object.keys(extra || {}).forEach(function (k) { h[k] = extra[k]; });
    return h;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: body || null,
      headers: headers(body ? { "Content-Type": "application/x-www-form-urlencoded" } : {})
    });
  }

  function report(registered) {
    if (reporting === String(registered) + mode) return;
    reporting = String(registered) + mode;
    var body = "registered=" + (registered ? "true" : "false") + "&mode=" + encodeURIComponent(mode);
    post(root.getAttribute("data-status-url"), body).then(function (r) { return r.text(); }).then(function (html) {
      var target = document.getElementById("ws-phone-status");
      if (target && window.htmx) {
        target.innerHTML = html;
        window.htmx.process(target);
      } else if (target) {
        target.innerHTML = html;
      }
    }).catch(function () { reporting = null; });
  }

  function callState(text) {
    var badge = document.getElementById("softphone-call-state");
    if (badge) badge.textContent = text;
  }

  /* ------------------------------------------------------------ devices */
  function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    navigator.mediaDevices.enumerateDevices().then(function (devices) {
      fill(root.querySelector("[data-phone-input]"), devices, "audioinput");
      fill(root.querySelector("[data-phone-output]"), devices, "audiooutput");
    });
  }

  function fill(select, devices, kind) {
    if (!select) return;
    var current = select.value;
    while (select.options.length > 1) select.remove(1);
    devices.filter(function (d) { return d.kind === kind && d.deviceId && d.deviceId !== "default"; })
      .forEach(function (d, i) {
        var option = document.createElement("option");
        option.value = d.deviceId;
        option.textContent = d.label || (kind + " " + (i + 1));
        select.appendChild(option);
      });
    select.value = current;
  }

  function audioConstraints() {
    return inputId ? { deviceId: { exact: inputId } } : true;
  }

  function openMicrophone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return Promise.resolve(null);
    return navigator.mediaDevices.getUserMedia({ audio: audioConstraints(), video: false }).then(function (stream) {
      if (micStream) micStream.getTracks().forEach(function (t) { t.stop(); });
      micStream = stream;
      meter(stream);
      listDevices();
      return stream;
    }).catch(function () { return null; });
  }

  /* Microphone level: cosmetic, so a throttled timer is fine. */
  function meter(stream) {
    var el = root.querySelector("[data-phone-meter]");
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!el || !Ctx) return;
    var ctx = new Ctx();
    /* autoplay policy: a context made before any click starts suspended */
    if (ctx.state === "suspended") {
      document.addEventListener("click", function resume() {
        ctx.resume();
        document.removeEventListener("click", resume);
      });
    }
    var analyser = ctx.createAnalyser();
    analyser.fftSize = 256;
    ctx.createMediaStreamSource(stream).connect(analyser);
    var data = new Uint8Array(analyser.fftSize);
    var bars = el.querySelectorAll("span");
    if (meterTimer) window.clearInterval(meterTimer);
    meterTimer = window.setInterval(function () {
      analyser.getByteTimeDomainData(data);
      var peak = 0;
      for (var i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i] - 128));
      var lit = Math.min(bars.length, Math.round(peak / 128 * bars.length * 2));
      bars.forEach(function (bar, j) { bar.classList.toggle("is-on", j < lit); });
      el.setAttribute("aria-valuenow", String(lit));
    }, 150);
  }

  /* ------------------------------------------------------------ SIP */
  function start() {
    post(root.getAttribute("data-credentials-url")).then(function (r) { return r.json(); }).then(function (creds) {
      if (creds.mode !== "sip" || !window.JsSIP) {
        mode = "simulation";
        callState(root.getAttribute("data-mode") === "sip" ? "SIP" : "—");
        report(false);
        return;
      }
      mode = "sip";
      showAccount(creds);
      if (root.getAttribute("data-mode") !== "webrtc") return;  // their own SIP phone registers itself
      register(creds);
    }).catch(function () { report(false); });
  }

  function showAccount(creds) {
    var pre = root.querySelector("[data-sip-account]");
    if (pre) pre.textContent = "URI: " + creds.uri + "\nUser: " + creds.username + "\nPassword: " + creds.password;
  }

  function register(creds) {
    if (ua) { try { ua.stop(); } catch (e) { /* already stopped */ } }
    ua = new window.JsSIP.UA({
      sockets: [new window.JsSIP.WebSocketInterface(creds.websocket_url)],
      uri: creds.uri, authorization_user: creds.username, password: creds.password,
      register: true, session_timers: false,
      connection_recovery_min_interval: 2, connection_recovery_max_interval: 30
    });
    ua.on("registered", function () { report(true); });
    ua.on("unregistered", function () { report(false); });
    ua.on("disconnected", function () { report(false); });
    ua.on("registrationFailed", function (e) {
      report(false);
      // expired or replaced credentials: ask for new ones
      if (e && e.cause === window.JsSIP.C.causes.AUTHENTICATION_ERROR) window.setTimeout(start, 3000);
    });
    ua.on("newRTCSession", function (e) {
      if (e.originator !== "remote") return;
      session = e.session;
      session.on("ended", function () { session = null; callState("—"); });
      session.on("failed", function () { session = null; callState("—"); });
      session.on("confirmed", function () { callState("●"); });
      session.answer({ mediaConstraints: { audio: audioConstraints(), video: false } });  // persistent leg: auto-answer
      session.connection.addEventListener("track", function (evt) {
        audio.srcObject = evt.streams[0];
      });
    });
    ua.start();
  }

  /* ------------------------------------------------------------ controls */
  function toggle(button, on) {
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  function onClick(evt) {
    var el = evt.target.closest ? evt.target.closest("[data-dtmf], [data-phone-mute], [data-phone-hold], [data-phone-retry], [data-sip-reveal]") : null;
    if (!el || !root) return;
    if (el.hasAttribute("data-dtmf")) {
      if (session) session.sendDTMF(el.getAttribute("data-dtmf"));
    } else if (el.hasAttribute("data-phone-mute")) {
      var mute = el.getAttribute("aria-pressed") !== "true";
      if (session) { if (mute) session.mute({ audio: true }); else session.unmute({ audio: true }); }
      if (micStream) micStream.getAudioTracks().forEach(function (t) { t.enabled = !mute; });
      toggle(el, mute);
    } else if (el.hasAttribute("data-phone-hold")) {
      var hold = el.getAttribute("aria-pressed") !== "true";
      if (session) { if (hold) session.hold(); else session.unhold(); }
      toggle(el, hold);
    } else if (el.hasAttribute("data-phone-retry")) {
      reporting = null;
      start();
    } else if (el.hasAttribute("data-sip-reveal")) {
      var pre = root.querySelector("[data-sip-account]");
      if (pre) pre.hidden = !pre.hidden;
    }
  }

  function onChange(evt) {
    var el = evt.target;
    if (!root || !el) return;
    if (el.hasAttribute("data-phone-volume")) {
      audio.volume = Math.max(0, Math.min(1, parseInt(el.value, 10) / 100));
    } else if (el.hasAttribute("data-phone-output")) {
      if (audio.setSinkId) audio.setSinkId(el.value || "default").catch(function () {});
    } else if (el.hasAttribute("data-phone-input")) {
      inputId = el.value;
      openMicrophone().then(function (stream) {
        if (!stream || !session || !session.connection) return;
        var track = stream.getAudioTracks()[0];
        session.connection.getSenders().forEach(function (sender) {
          if (sender.track && sender.track.kind === "audio") sender.replaceTrack(track);
        });
      });
    }
  }

  var listening = false;

  function init() {
    root = document.getElementById("softphone");
    if (!root) return;
    audio = document.getElementById("softphone-audio");
    reporting = null;
    if (!listening) {
      listening = true;
      document.addEventListener("click", onClick);
      document.addEventListener("input", onChange);
      document.addEventListener("change", onChange);
      window.addEventListener("online", function () {
        if (ua && !ua.isConnected()) ua.start();
        else if (!ua && root) start();
      });
    }
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener("devicechange", listDevices);
    }
    openMicrophone();
    start();
  }

  if (window.carillonSoftphone) return;  // a boosted navigation may load this twice
  window.carillonSoftphone = true;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  document.addEventListener("htmx:afterSettle", function () {
    if (!root || !document.body.contains(root)) init();
  });
})();
