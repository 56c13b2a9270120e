/*
 * Carillon progressive enhancements. Every page works without this file;
 * it only adds comfort: sidebar collapse, flash auto-dismiss, confirmation
 * dialogs, focus management after HTMX swaps, the live-connection indicator,
 * readable feedback when an HTMX request fails, keyboard shortcuts
 * (data-shortcut), range outputs, dialog openers and sortable lists.
 *
 * Loaded synchronously in <head> so the sidebar state is applied before the
 * first paint; everything touching the body waits for DOMContentLoaded.
 */
(function () {
  "use strict";

  var root = document.documentElement;
  var SIDEBAR_KEY = "carillon.sidebar";
  var FLASH_TIMEOUT_MS = 6000;

  /* ------------------------------------------------------------ sidebar */
  function readSidebarPreference() {
    try {
      return window.localStorage.getItem(SIDEBAR_KEY);
    } catch (e) {
      return null;
    }
  }

  function writeSidebarPreference(value) {
    try {
      window.localStorage.setItem(SIDEBAR_KEY, value);
    } catch (e) {
      /* Private mode or storage disabled: the toggle still works for this page. */
    }
  }

  /* The page may set a default (data-sidebar on <html>); the user's choice wins. */
  var savedSidebar = readSidebarPreference();
  if (savedSidebar === "collapsed" || savedSidebar === "expanded") {
    root.setAttribute("data-sidebar", savedSidebar);
  }

  function sidebarIsCollapsed() {
    var state = root.getAttribute("data-sidebar");
    if (state) return state === "collapsed";
    return window.matchMedia("(max-width: 1024px)").matches;
  }

  function syncSidebarToggles() {
    var expanded = !sidebarIsCollapsed();
    document.querySelectorAll("[data-sidebar-toggle]").forEach(function (btn) {
      btn.setAttribute("aria-expanded", expanded ? "true" : "false");
    });
  }

  function toggleSidebar() {
    var next = sidebarIsCollapsed() ? "expanded" : "collapsed";
    root.setAttribute("data-sidebar", next);
    writeSidebarPreference(next);
    syncSidebarToggles();
  }

  /* ------------------------------------------------------------ flashes */
  function dismissFlash(flash) {
    if (!flash || flash.classList.contains("is-leaving")) return;
    flash.classList.add("is-leaving");
    var remove = function () {
      if (flash.parentNode) flash.parentNode.removeChild(flash);
    };
    flash.addEventListener("transitionend", remove, { once: true });
    window.setTimeout(remove, 400);
  }

  /*
   * Success and info messages leave by themselves; warnings and errors stay
   * until dismissed (WCAG 2.2.1). Hover or keyboard focus pauses the timer.
   */
  function armFlash(flash) {
    if (flash.dataset.armed) return;
    flash.dataset.armed = "1";
    var sticky = flash.hasAttribute("data-sticky") ||
      flash.classList.contains("flash-error") ||
      flash.classList.contains("flash-danger") ||
      flash.classList.contains("flash-warning");
    if (sticky) return;

    var remaining = parseInt(flash.getAttribute("data-timeout"), 10) || FLASH_TIMEOUT_MS;
    var timer = null;
    var startedAt = 0;

    function start() {
      if (timer) return;
      startedAt = Date.now();
      timer = window.setTimeout(function () { dismissFlash(flash); }, remaining);
    }
    function pause() {
      if (!timer) return;
      window.clearTimeout(timer);
      timer = null;
      remaining = Math.max(1500, remaining - (Date.now() - startedAt));
    }
    flash.addEventListener("mouseenter", pause);
    flash.addEventListener("mouseleave", function () {
      if (!flash.contains(document.activeElement)) start();
    });
    flash.addEventListener("focusin", pause);
    flash.addEventListener("focusout", function (evt) {
      if (!flash.contains(evt.relatedTarget) && !flash.matches(":hover")) start();
    });
    start();
  }

  /* Only messages in the #flashes region leave by themselves; a .flash used
     inline in page content stays. */
  function armFlashes() {
    document.querySelectorAll("#flashes .flash").forEach(armFlash);
  }

  /* Adds a message from the client (e.g. when an HTMX request fails). */
  function showFlash(category, text) {
    var region = document.getElementById("flashes");
    if (!region || !text) return;
    var template = document.getElementById("flash-template");
    var flash;
    if (template && template.content) {
      flash = template.content.firstElementChild.cloneNode(true);
    } else {
      flash = document.createElement("div");
      flash.innerHTML = '<div class="flash-body"></div>';
      flash.className = "flash";
    }
    flash.classList.add("flash-" + category);
    flash.setAttribute("role", category === "error" || category === "warning" ? "alert" : "status");
    flash.querySelector(".flash-body").textContent = text;
    region.appendChild(flash);
    armFlash(flash);
  }

  /* ------------------------------------------------- confirmation dialog */
  var confirmedOnce = new WeakSet();

  function askConfirmation(message) {
    var dialog = document.getElementById("confirm-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.resolve(window.confirm(message));
    }
    var body = dialog.querySelector("[data-confirm-message]");
    if (body) body.textContent = message;
    var opener = document.activeElement;
    return new Promise(function (resolve) {
      dialog.returnValue = "";
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        if (opener && typeof opener.focus === "function" && document.contains(opener)) {
          opener.focus();
        }
        resolve(dialog.returnValue === "confirm");
      });
      dialog.showModal();
      var cancel = dialog.querySelector("[value=cancel]");
      if (cancel) cancel.focus();
    });
  }

  var HX_VERB = /(^|\s)(data-)?hx-(get|post|put|patch|delete)(\s|$)/;

  function verbAttributes(el) {
    var names = [];
    for (var i = 0; i < el.attributes.length; i++) names.push(el.attributes[i].name);
    return names.join(" ");
  }

  function confirmTarget(evt) {
    var el = evt.target.closest ? evt.target.closest("[data-confirm]") : null;
    if (evt.type === "submit") {
      var form = evt.target;
      var submitter = evt.submitter;
      if (submitter && submitter.hasAttribute("data-confirm")) return submitter;
      return form.hasAttribute("data-confirm") ? form : null;
    }
    if (!el) return null;
    /* A data-confirm form is handled on submit, not on clicks inside it. */
    if (el.tagName === "FORM") return null;
    /* A submit button is handled on submit so keyboard submits are covered too. */
    var isSubmit = (el.tagName === "BUTTON" && (el.type || "submit") === "submit") ||
      (el.tagName === "INPUT" && el.type === "submit");
    if (isSubmit && el.form && !HX_VERB.test(verbAttributes(el))) return null;
    return el;
  }

  function onConfirmableEvent(evt) {
    var el = confirmTarget(evt);
    if (!el) return;
    if (confirmedOnce.has(el)) {
      confirmedOnce.delete(el);
      return;
    }
    evt.preventDefault();
    evt.stopImmediatePropagation();
    askConfirmation(el.getAttribute("data-confirm")).then(function (ok) {
      if (!ok) return;
      confirmedOnce.add(el);
      if (evt.type === "submit") {
        var form = evt.target;
        var submitter = evt.submitter && evt.submitter !== form ? evt.submitter : null;
        if (typeof form.requestSubmit === "function") {
          form.requestSubmit(submitter || undefined);
        } else {
          form.submit();
        }
        confirmedOnce.delete(el);
      } else {
        el.click();
      }
    });
  }

  /* Triggers other than click/submit (change, keyup...) on data-confirm elements. */
  function onHtmxConfirm(evt) {
    var el = evt.detail && evt.detail.elt;
    if (!el || !el.hasAttribute || !el.hasAttribute("data-confirm")) return;
    var triggerType = evt.detail.triggeringEvent && evt.detail.triggeringEvent.type;
    if (triggerType === "click" || triggerType === "submit") return;
    evt.preventDefault();
    askConfirmation(el.getAttribute("data-confirm")).then(function (ok) {
      if (ok) evt.detail.issueRequest(true);
    });
  }

  /* --------------------------------------------------- focus after swaps */
  var lastFocusedId = null;

  function rememberFocus() {
    var active = document.activeElement;
    lastFocusedId = active && active.id ? active.id : null;
  }

  function restoreFocus(evt) {
    var target = (evt.detail && evt.detail.target) || document.body;
    var scope = target.isConnected ? target : document.body;
    var wanted = scope.querySelector("[data-focus]") || scope.querySelector("[autofocus]");
    if (!wanted && scope.matches && scope.matches("[data-focus], [autofocus]")) wanted = scope;
    var boosted = evt.detail && evt.detail.boosted;

    if (wanted) {
      focusElement(wanted);
    } else if (document.activeElement === document.body || !document.activeElement) {
      var again = lastFocusedId && document.getElementById(lastFocusedId);
      if (again) {
        focusElement(again);
      } else if (boosted) {
        /* A boosted navigation is a new page: start screen readers at its heading. */
        var heading = document.querySelector("#main h1") || document.getElementById("main");
        if (heading) {
          if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
          focusElement(heading);
        }
      }
    }
    lastFocusedId = null;
  }

  function focusElement(el) {
    try {
      el.focus({ preventScroll: el.hasAttribute("data-focus-no-scroll") });
    } catch (e) {
      el.focus();
    }
    if (el.select && el.hasAttribute("data-focus-select")) el.select();
  }

  /* --------------------------------------------- live connection (SSE) */
  var sseState = { open: new Set(), failed: new Set() };

  function renderSseStatus() {
    var hasSource = document.querySelector("[sse-connect], [data-sse-connect]") !== null;
    var disconnected = sseState.failed.size > 0 || !navigator.onLine;
    document.querySelectorAll("[data-sse-status]").forEach(function (indicator) {
      var scopeSelector = indicator.getAttribute("data-sse-status");
      var scoped = scopeSelector ? document.querySelector(scopeSelector) : null;
      var isDown = disconnected;
      if (scoped) isDown = sseState.failed.has(scoped) || !navigator.onLine;
      indicator.classList.toggle("is-disconnected", isDown);
      indicator.classList.toggle("is-connected", !isDown && (scoped ? sseState.open.has(scoped) : sseState.open.size > 0));
      if (indicator.hasAttribute("data-sse-auto")) indicator.hidden = !hasSource;
    });
  }

  function pruneSseState() {
    [sseState.open, sseState.failed].forEach(function (set) {
      set.forEach(function (el) {
        if (!document.contains(el)) set.delete(el);
      });
    });
  }

  /* ------------------------------------------------ HTMX error feedback */
  function messageFor(name) {
    var region = document.getElementById("flashes");
    return region ? region.getAttribute("data-msg-" + name) : null;
  }

  function onBeforeSwap(evt) {
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    /* Forms re-rendered with validation errors come back as 422: show them. */
    if (status === 422) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
      return;
    }
    /* A boosted navigation to an error page shows that page (404, 403, 500...). */
    if (status >= 400 && evt.detail.boosted) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  }

  function onResponseError(evt) {
    if (evt.detail.boosted) return;
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    if (status === 422) return;
    var key = status === 403 ? "forbidden" : status === 404 ? "not-found" : "error";
    showFlash("error", messageFor(key) || messageFor("error"));
  }

  function onSendError() {
    showFlash("error", messageFor("network"));
  }

  /* ------------------------------------------------------------ menus */
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }

  /* --------------------------------------------------- keyboard shortcuts */
  /*
   * <button data-shortcut="1" aria-keyshortcuts="1">… <kbd>1</kbd></button>
   * A bare key press (no modifier, not while typing, no dialog open) clicks
   * the first visible, enabled element carrying that shortcut.
   */
  function isTyping(target) {
    if (!target || !target.closest) return false;
    return target.isContentEditable ||
      target.closest("input, textarea, select, [contenteditable='true']") !== null;
  }

  function onShortcutKey(evt) {
    if (evt.defaultPrevented || evt.altKey || evt.ctrlKey || evt.metaKey) return;
    if (isTyping(evt.target) || document.querySelector("dialog[open]")) return;
    var key = evt.key.length === 1 ? evt.key.toLowerCase() : evt.key;
    var candidates = document.querySelectorAll("[data-shortcut]");
    for (var i = 0; i < candidates.length; i++) {
      var el = candidates[i];
      if ((el.getAttribute("data-shortcut") || "").toLowerCase() !== key.toLowerCase()) continue;
      if (el.disabled || el.getAttribute("aria-disabled") === "true") continue;
      if (el.offsetParent === null && el.getClientRects().length === 0) continue;
      evt.preventDefault();
      el.click();
      return;
    }
  }

  /* ------------------------------------------- small declarative helpers */
  function syncRangeOutput(evt) {
    var input = evt.target;
    if (!input || input.type !== "range" || !input.id) return;
    document.querySelectorAll('output[for~="' + input.id + '"]').forEach(function (out) {
      out.value = input.value;
    });
  }

  /* <ul data-sortable> with .drag-handle children: fires "sorted" on the list
     so hx-trigger="sorted" can post the new order (needs Sortable.min.js). */
  function initSortables(scope, attempt) {
    if (!window.Sortable) {
      /* After a boosted navigation the page's Sortable.min.js may still be loading. */
      attempt = attempt || 0;
      if (attempt < 20 && document.querySelector("[data-sortable]")) {
        window.setTimeout(function () { initSortables(scope, attempt + 1); }, 100);
      }
      return;
    }
    (scope || document).querySelectorAll("[data-sortable]").forEach(function (list) {
      if (list.dataset.sortableReady) return;
      list.dataset.sortableReady = "1";
      window.Sortable.create(list, {
        handle: list.querySelector(".drag-handle") ? ".drag-handle" : null,
        animation: window.matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : 150,
        ghostClass: "sortable-ghost",
        chosenClass: "sortable-chosen",
        onEnd: function () {
          list.dispatchEvent(new CustomEvent("sorted", { bubbles: true }));
        }
      });
    });
  }

  function onDialogButtons(evt) {
    var opener = evt.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && typeof dialog.showModal === "function") {
        evt.preventDefault();
        dialog.showModal();
      }
      return;
    }
    var closer = evt.target.closest("[data-dialog-close]");
    if (closer) {
      var open = closer.closest("dialog");
      if (open) {
        evt.preventDefault();
        open.close();
      }
    }
  }

  /* Table boxes that scroll must be reachable with the keyboard (WCAG 2.1.1). */
  function makeScrollersFocusable() {
    document.querySelectorAll(".table-wrap, .table-scroll").forEach(function (box) {
      var scrolls = box.scrollHeight > box.clientHeight + 1 || box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.dataset.autoFocusable = "1";
        if (!box.hasAttribute("role")) box.setAttribute("role", "region");
        if (!box.hasAttribute("aria-label") && !box.hasAttribute("aria-labelledby")) {
          var caption = box.querySelector("caption");
          var card = box.closest(".card");
          var title = card ? card.querySelector(".card-title") : null;
          var label = (caption || title || {}).textContent;
          if (label) box.setAttribute("aria-label", label.trim());
        }
      } else if (!scrolls && box.dataset.autoFocusable) {
        box.removeAttribute("tabindex");
        delete box.dataset.autoFocusable;
      }
    });
  }

  /* "Go back" buttons on error pages: only meaningful with JS and history. */
  function showHistoryBackButtons() {
    if (window.history.length < 2) return;
    document.querySelectorAll("[data-history-back]").forEach(function (btn) {
      btn.hidden = false;
    });
  }

  /* ------------------------------------------------------------ wiring */
  function init() {
    syncSidebarToggles();
    armFlashes(document);
    renderSseStatus();
    initSortables(document);
    showHistoryBackButtons();
    makeScrollersFocusable();
    window.addEventListener("resize", makeScrollersFocusable);

    document.addEventListener("keydown", onShortcutKey);
    document.addEventListener("input", syncRangeOutput);
    document.addEventListener("click", onDialogButtons);

    document.addEventListener("click", function (evt) {
      var toggle = evt.target.closest("[data-sidebar-toggle]");
      if (toggle) {
        evt.preventDefault();
        toggleSidebar();
        return;
      }
      if (evt.target.closest("[data-history-back]")) {
        window.history.back();
        return;
      }
      var close = evt.target.closest("[data-dismiss-flash]");
      if (close) {
        dismissFlash(close.closest(".flash"));
        return;
      }
      var menu = evt.target.closest("details.menu");
      closeMenus(menu);
    });

    document.addEventListener("keydown", function (evt) {
      if (evt.key !== "Escape") return;
      var open = document.querySelector("details.menu[open]");
      if (open) {
        open.removeAttribute("open");
        var summary = open.querySelector("summary");
        if (summary) summary.focus();
      }
    });

    /* Capture phase: runs before htmx's own click/submit handlers. */
    document.addEventListener("click", onConfirmableEvent, true);
    document.addEventListener("submit", onConfirmableEvent, true);
    document.addEventListener("htmx:confirm", onHtmxConfirm);

    document.addEventListener("htmx:beforeSwap", onBeforeSwap);
    document.addEventListener("htmx:beforeRequest", rememberFocus);
    document.addEventListener("htmx:afterSettle", function (evt) {
      restoreFocus(evt);
      armFlashes(document);
      pruneSseState();
      syncSidebarToggles();
      renderSseStatus();
      initSortables(evt.detail && evt.detail.target);
      showHistoryBackButtons();
      makeScrollersFocusable();
    });
    document.addEventListener("htmx:oobAfterSwap", function () { armFlashes(document); });
    document.addEventListener("htmx:responseError", onResponseError);
    document.addEventListener("htmx:sendError", onSendError);

    document.addEventListener("htmx:sseOpen", function (evt) {
      sseState.open.add(evt.target);
      sseState.failed.delete(evt.target);
      renderSseStatus();
    });
    document.addEventListener("htmx:sseError", function (evt) {
      sseState.failed.add(evt.target);
      sseState.open.delete(evt.target);
      renderSseStatus();
    });
    document.addEventListener("htmx:sseClose", function (evt) {
      sseState.open.delete(evt.target);
      sseState.failed.delete(evt.target);
      renderSseStatus();
    });
    window.addEventListener("online", renderSseStatus);
    window.addEventListener("offline", renderSseStatus);

    window.matchMedia("(max-width: 1024px)").addEventListener("change", syncSidebarToggles);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }

  window.Carillon = {
    showFlash: showFlash,
    confirm: askConfirmation,
    toggleSidebar: toggleSidebar
  };
})();
