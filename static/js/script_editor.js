/*
 * Script editor (campaigns/script_editor.html) and script preview
 * (campaigns/script_preview.html).
 *
 * Editor: #script-editor[data-content-field] names the textarea holding the
 * script JSON. The editor draws pages and blocks from it, lets the manager
 * drag blocks within and across pages (Sortable) and writes the JSON back
 * before the form is submitted. Without JavaScript the textarea itself is
 * edited. The server validates everything again.
 *
 * Preview: [data-script-preview] — choosing an answer that branches jumps to
 * its page.
 */
(function () {
  "use strict";

  var BLOCK_TYPES = ["text", "question", "button"];
  var ANSWER_TYPES = ["text", "choice", "yes_no", "date"];
  var lastFocused = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "value") node.value = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  var uid = 0;
  function nextId(prefix) { uid += 1; return prefix + "-" + uid; }

  function labelled(labelText, input, wide) {
    if (!input.id) input.id = nextId("se");
    return el("div", { "class": "field" + (wide ? " span-all" : "") }, [
      el("label", { "for": input.id, text: labelText }), input
    ]);
  }

  /* ------------------------------------------------------------ model */
  function readContent(textarea) {
    try {
      var data = JSON.parse(textarea.value || "{}");
      if (data && Array.isArray(data.pages) && data.pages.length) return data;
    } catch (err) { /* fall through to an empty script */ }
    return { pages: [{ key: "p1", title: "Introduction", blocks: [] }] };
  }

  function newPageKey(root) {
    var keys = Array.prototype.map.call(root.querySelectorAll("[data-page-key]"), function (n) {
      return n.getAttribute("data-page-key");
    });
    var n = keys.length + 1;
    while (keys.indexOf("p" + n) !== -1) n += 1;
    return "p" + n;
  }

  function newQuestionKey(root) {
    var n = root.querySelectorAll("[data-block='question']").length + 1;
    while (root.querySelector("[data-question-key='q" + n + "']")) n += 1;
    return "q" + n;
  }

  /* ----------------------------------------------------------- drawing */
  function pageOptions(root, selected, L) {
    var select = el("select", { "data-role": "goto" });
    select.appendChild(el("option", { value: "", text: L.no_branch }));
    // From the content being drawn: later pages are not in the DOM yet.
    (root.pagesIndex || []).forEach(function (page) {
      var option = el("option", { value: page.key, text: (page.title || page.key) + " (" + page.key + ")" });
      if (page.key === selected) option.selected = true;
      select.appendChild(option);
    });
    return select;
  }

  function branchRows(root, block, L) {
    var box = el("div", { "class": "stack-sm", "data-role": "branches" });
    var answers = [];
    if (block.answer_type === "yes_no") answers = [["yes", L.yes], ["no", L.no]];
    else if (block.answer_type === "choice") answers = (block.choices || []).map(function (c) { return [c, c]; });
    if (!answers.length) return box;
    box.appendChild(el("p", { "class": "label", text: L.branches }));
    answers.forEach(function (pair) {
      var current = (block.branches || []).filter(function (b) { return b.answer === pair[0]; })[0];
      var select = pageOptions(root, current ? current.page : "", L);
      select.setAttribute("data-answer", pair[0]);
      select.id = nextId("goto");
      box.appendChild(el("div", { "class": "cluster" }, [
        el("label", { "for": select.id, "class": "text-sm", text: pair[1] + " → " }), select
      ]));
    });
    return box;
  }

  function blockItem(root, block, L) {
    var item = el("li", { "class": "sortable-item", "data-block": block.type });
    var body = el("div", { "class": "stack-sm", style: "flex: 1; min-width: 0" });
    item.appendChild(body);
    var header = el("div", { "class": "cluster" }, [
      el("span", { "class": "drag-handle", title: L.drag, "aria-hidden": "true", text: "⋮⋮" }),
      el("span", { "class": "badge badge-neutral", text: L[block.type] || block.type }),
      el("span", { "class": "spacer" }),
      el("button", { type: "button", "class": "btn btn-ghost btn-sm btn-icon", "data-action": "move-up", "aria-label": L.up, title: L.up, text: "↑" }),
      el("button", { type: "button", "class": "btn btn-ghost btn-sm btn-icon", "data-action": "move-down", "aria-label": L.down, title: L.down, text: "↓" }),
      el("button", { type: "button", "class": "btn btn-danger-ghost btn-sm", "data-action": "remove-block", text: L.delete })
    ]);
    body.appendChild(header);
    var grid = el("div", { "class": "form-grid" });
    if (block.type === "text") {
      var text = el("textarea", { rows: "3", "data-role": "text", "aria-describedby": "" });
      text.value = block.text || "";
      grid.appendChild(labelled(L.text, text, true));
      grid.appendChild(el("p", { "class": "help span-all", text: L.text_help }));
    } else if (block.type === "question") {
      item.setAttribute("data-question-key", block.key || "");
      grid.appendChild(labelled(L.label, el("input", { type: "text", "data-role": "label", value: block.label || "" }), true));
      grid.appendChild(labelled(L.key, el("input", { type: "text", "data-role": "key", value: block.key || "" })));
      var type = el("select", { "data-role": "answer_type" });
      ANSWER_TYPES.forEach(function (name) {
        var option = el("option", { value: name, text: L["type_" + name] });
        if (name === (block.answer_type || "text")) option.selected = true;
        type.appendChild(option);
      });
      grid.appendChild(labelled(L.answer_type, type));
      if (block.answer_type === "choice") {
        var choices = el("textarea", { rows: "3", "data-role": "choices" });
        choices.value = (block.choices || []).join("\n");
        grid.appendChild(labelled(L.choices, choices, true));
      }
      var branches = branchRows(root, block, L);
      branches.classList.add("span-all");
      grid.appendChild(branches);
    } else {
      grid.appendChild(labelled(L.label, el("input", { type: "text", "data-role": "label", value: block.label || "" })));
      grid.appendChild(labelled(L.status, el("input", { type: "text", maxlength: "3", "data-role": "status", value: block.status || "" })));
    }
    body.appendChild(grid);
    return item;
  }

  function pageCard(root, page, L) {
    var card = el("section", { "class": "card", "data-page-key": page.key });
    var title = el("input", { type: "text", "data-role": "title", value: page.title || "", style: "flex: 1; min-width: 14rem" });
    title.id = nextId("page-title");
    var header = el("div", { "class": "card-header" }, [
      el("div", { "class": "cluster", style: "flex: 1; flex-wrap: nowrap" }, [
        el("span", { "class": "drag-handle", "data-page-handle": "1", title: L.drag, "aria-hidden": "true", text: "⋮⋮" }),
        el("label", { "for": title.id, "class": "visually-hidden", text: L.title }), title,
        el("code", { "class": "text-sm", text: page.key })
      ]),
      el("button", { type: "button", "class": "btn btn-danger-ghost btn-sm", "data-action": "remove-page", text: L.delete_page })
    ]);
    var list = el("ul", { "class": "sortable-list", "data-blocks": "1", "aria-label": page.title || page.key });
    (page.blocks || []).forEach(function (block) { list.appendChild(blockItem(root, block, L)); });
    var adders = el("div", { "class": "cluster" }, [el("span", { "class": "text-sm muted", text: L.add })]);
    BLOCK_TYPES.forEach(function (type) {
      adders.appendChild(el("button", { type: "button", "class": "btn btn-secondary btn-sm", "data-action": "add-block", "data-type": type, text: "+ " + L[type] }));
    });
    card.appendChild(header);
    card.appendChild(el("div", { "class": "card-body stack-sm" }, [
      list, el("p", { "class": "muted text-sm", "data-empty": "1", text: L.empty }), adders
    ]));
    return card;
  }

  /* -------------------------------------------------------- serialising */
  function readBlock(item) {
    var type = item.getAttribute("data-block");
    var value = function (role) {
      var node = item.querySelector("[data-role='" + role + "']");
      return node ? node.value : "";
    };
    if (type === "text") return { type: "text", text: value("text") };
    if (type === "button") return { type: "button", label: value("label"), status: value("status").toUpperCase() };
    var answerType = value("answer_type") || "text";
    var choices = answerType === "choice" ? value("choices").split("\n").map(function (c) { return c.trim(); }).filter(Boolean) : [];
    var branches = [];
    item.querySelectorAll("[data-role='goto'][data-answer]").forEach(function (select) {
      if (select.value) branches.push({ answer: select.getAttribute("data-answer"), page: select.value });
    });
    return { type: "question", key: value("key").trim(), label: value("label"), answer_type: answerType, choices: choices, branches: branches };
  }

  function serialise(root) {
    var pages = [];
    root.querySelectorAll("[data-page-key]").forEach(function (card) {
      var blocks = [];
      card.querySelectorAll("[data-blocks] > li").forEach(function (item) { blocks.push(readBlock(item)); });
      pages.push({ key: card.getAttribute("data-page-key"), title: card.querySelector("[data-role='title']").value, blocks: blocks });
    });
    return { pages: pages };
  }

  /* ------------------------------------------------------------- editor */
  function draw(root, content, L) {
    root.pagesIndex = content.pages.map(function (page) { return { key: page.key, title: page.title }; });
    root.textContent = "";
    var pages = el("div", { "class": "stack", "data-pages": "1" });
    root.appendChild(pages);
    content.pages.forEach(function (page) { pages.appendChild(pageCard(root, page, L)); });
    root.appendChild(el("button", { type: "button", "class": "btn btn-secondary", "data-action": "add-page", text: "+ " + L.add_page }));
    refreshEmpty(root);
    makeSortable(root);
  }

  function refreshEmpty(root) {
    root.querySelectorAll("[data-page-key]").forEach(function (card) {
      var empty = card.querySelector("[data-empty]");
      empty.hidden = card.querySelectorAll("[data-blocks] > li").length > 0;
    });
  }

  function makeSortable(root) {
    if (!window.Sortable) {
      window.setTimeout(function () { makeSortable(root); }, 100);
      return;
    }
    var still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    root.querySelectorAll("[data-blocks]").forEach(function (list) {
      if (list.dataset.sortableReady) return;
      list.dataset.sortableReady = "1";
      window.Sortable.create(list, {
        group: "script-blocks", handle: ".drag-handle", animation: still ? 0 : 150,
        ghostClass: "sortable-ghost", chosenClass: "sortable-chosen",
        onEnd: function () { refreshEmpty(root); }
      });
    });
    var pages = root.querySelector("[data-pages]");
    if (pages && !pages.dataset.sortableReady) {
      pages.dataset.sortableReady = "1";
      window.Sortable.create(pages, { handle: "[data-page-handle]", animation: still ? 0 : 150 });
    }
  }

  /* Redraw keeping the edits: branch targets depend on pages and answers. */
  function redraw(root, L) {
    draw(root, serialise(root), L);
  }

  function onClick(root, L, evt) {
    var button = evt.target.closest("[data-action]");
    if (!button || !root.contains(button)) return;
    var action = button.getAttribute("data-action");
    if (action === "add-page") {
      var content = serialise(root);
      content.pages.push({ key: newPageKey(root), title: "", blocks: [] });
      draw(root, content, L);
      var cards = root.querySelectorAll("[data-page-key]");
      cards[cards.length - 1].querySelector("[data-role='title']").focus();
    } else if (action === "remove-page") {
      if (root.querySelectorAll("[data-page-key]").length > 1) {
        button.closest("[data-page-key]").remove();
        redraw(root, L);
      }
    } else if (action === "add-block") {
      var type = button.getAttribute("data-type");
      var block = type === "question" ? { type: type, key: newQuestionKey(root), label: "", answer_type: "yes_no", choices: [], branches: [] } : { type: type };
      var list = button.closest("[data-page-key]").querySelector("[data-blocks]");
      var item = blockItem(root, block, L);
      list.appendChild(item);
      refreshEmpty(root);
      var first = item.querySelector("textarea, input");
      if (first) first.focus();
    } else if (action === "move-up" || action === "move-down") {
      // Keyboard alternative to dragging: move within the page, then across pages.
      var moving = button.closest("li");
      moveBlock(root, moving, action === "move-up" ? -1 : 1);
      button.focus();
    } else if (action === "remove-block") {
      button.closest("li").remove();
      refreshEmpty(root);
    }
  }

  function moveBlock(root, item, step) {
    var list = item.parentNode;
    var sibling = step < 0 ? item.previousElementSibling : item.nextElementSibling;
    if (sibling) {
      list.insertBefore(item, step < 0 ? sibling : sibling.nextElementSibling);
    } else {
      var lists = Array.prototype.slice.call(root.querySelectorAll("[data-blocks]"));
      var target = lists[lists.indexOf(list) + step];
      if (!target) return;
      if (step < 0) target.appendChild(item);
      else target.insertBefore(item, target.firstElementChild);
    }
    refreshEmpty(root);
  }

  function onChange(root, L, evt) {
    var role = evt.target.getAttribute("data-role");
    // Answer type and choices change which answers can branch: redraw that part.
    if (role === "answer_type" || role === "choices" || role === "title") {
      redraw(root, L);
    }
  }

  function insertPlaceholder(name) {
    var target = lastFocused;
    if (!target || !document.body.contains(target)) return;
    var token = "{" + name + "}";
    var start = target.selectionStart || target.value.length;
    var end = target.selectionEnd || start;
    target.value = target.value.slice(0, start) + token + target.value.slice(end);
    target.focus();
    target.setSelectionRange(start + token.length, start + token.length);
  }

  function initEditor(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var textarea = document.getElementById(root.getAttribute("data-content-field"));
    if (!textarea) return;
    var L = JSON.parse(root.getAttribute("data-labels") || "{}");
    var wrapper = textarea.closest(".script-json") || textarea;
    wrapper.hidden = true;
    draw(root, readContent(textarea), L);
    root.addEventListener("click", function (evt) { onClick(root, L, evt); });
    root.addEventListener("change", function (evt) { onChange(root, L, evt); });
    root.addEventListener("focusin", function (evt) {
      if (evt.target.matches("textarea[data-role='text'], input[data-role='label']")) lastFocused = evt.target;
    });
    document.querySelectorAll("[data-placeholder]").forEach(function (chip) {
      chip.addEventListener("click", function () { insertPlaceholder(chip.getAttribute("data-placeholder")); });
    });
    var form = textarea.form;
    if (form) {
      form.addEventListener("submit", function () {
        textarea.value = JSON.stringify(serialise(root));
      }, true);
    }
    // A server error shows the JSON field again so the message sits next to it.
    if (wrapper.querySelector && wrapper.querySelector(".field-error")) {
      root.insertBefore(wrapper.querySelector(".field-error").cloneNode(true), root.firstChild);
    }
  }

  /* ------------------------------------------------------------ preview */
  function initPreview(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    root.addEventListener("change", function (evt) {
      var input = evt.target;
      var page = input.getAttribute && input.getAttribute("data-goto");
      root.querySelectorAll(".script-step").forEach(function (step) { step.classList.remove("is-current"); });
      var target = page ? document.getElementById("page-" + page) : input.closest(".script-step");
      if (target) {
        target.classList.add("is-current");
        if (page) target.scrollIntoView({ behavior: "smooth", block: "start" });
      }
    });
  }

  function init() {
    document.querySelectorAll("#script-editor").forEach(initEditor);
    document.querySelectorAll("[data-script-preview]").forEach(initPreview);
  }

  if (!window.CarillonScriptEditor) {
    window.CarillonScriptEditor = { init: init };
    document.addEventListener("htmx:afterSettle", init);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
