// kb: progressive enhancement only; every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var body = document.body;

  function onReady(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  // Language switch: submit as soon as a language is picked.
  function initLanguageSwitch() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  // Copy buttons on code blocks.
  function initCopyButtons() {
    if (!navigator.clipboard) { return; }
    document.querySelectorAll(".article-body pre, .code-copy pre").forEach(function (pre) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-button";
      button.textContent = body.dataset.copy || "Copy";
      button.addEventListener("click", function () {
        var code = pre.querySelector("code") || pre;
        navigator.clipboard.writeText(code.innerText.replace(/\n$/, "")).then(function () {
          button.textContent = body.dataset.copied || "Copied";
          setTimeout(function () { button.textContent = body.dataset.copy || "Copy"; }, 1500);
        });
      });
      pre.appendChild(button);
    });
  }

  // Search as you type: a listbox of matching articles under the search box.
  function initSuggest(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    if (!list) { return; }
    var timer = null, active = -1, lastQuery = "", controller = null;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-expanded", "false");

    function close() {
      list.hidden = true;
      list.textContent = "";
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function select(index) {
      var items = list.querySelectorAll("li");
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
      active = index;
      if (index >= 0 && items[index]) { input.setAttribute("aria-activedescendant", items[index].id); }
    }
    function show(hits) {
      list.textContent = "";
      hits.forEach(function (hit, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        var a = document.createElement("a");
        // Through /go/typed/: the query the user settled on is logged with the pick, keystrokes are not.
        a.href = body.dataset.typedUrl.replace(/ID$/, hit.id.split("/").map(encodeURIComponent).join("/")) +
          "?q=" + encodeURIComponent(input.value.trim()) + "&n=" + hits.length;
        a.textContent = hit.title;
        a.lang = hit.lang;
        a.tabIndex = -1;
        li.appendChild(a);
        list.appendChild(li);
      });
      list.hidden = hits.length === 0;
      input.setAttribute("aria-expanded", hits.length ? "true" : "false");
      active = -1;
    }
    function fetchHits() {
      var q = input.value.trim();
      if (q === lastQuery) { return; }
      lastQuery = q;
      if (q.length < 2) { close(); return; }
      if (controller) { controller.abort(); }
      controller = new AbortController();
      var url = body.dataset.suggestUrl + "?limit=6&as_you_type=1&q=" + encodeURIComponent(q);
      fetch(url, { signal: controller.signal, headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { hits: [] }; })
        .then(function (data) { if (input.value.trim() === q) { show(data.hits || []); } })
        .catch(function () { /* aborted or offline: the form still works */ });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchHits, 200);
    });
    input.addEventListener("keydown", function (event) {
      var count = list.querySelectorAll("li").length;
      if (list.hidden || !count) { return; }
      if (event.key === "ArrowDown") { event.preventDefault(); select((active + 1) % count); }
      else if (event.key === "ArrowUp") { event.preventDefault(); select((active - 1 + count) % count); }
      else if (event.key === "Escape") { close(); }
      else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        window.location.href = list.querySelectorAll("li a")[active].href;
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 200); });
  }

  // Onboarding checklists: progress in localStorage, per path, so it survives a reload.
  function storageKey(pathId) { return "kb-onboarding:" + pathId; }
  function loadDone(pathId) {
    try { return JSON.parse(localStorage.getItem(storageKey(pathId)) || "[]"); } catch (e) { return []; }
  }
  function saveDone(pathId, done) {
    try { localStorage.setItem(storageKey(pathId), JSON.stringify(done)); } catch (e) { /* private mode */ }
  }
  function showProgress() {
    document.querySelectorAll("[data-progress-for]").forEach(function (el) {
      var done = loadDone(el.dataset.progressFor).length;
      el.textContent = Math.min(done, Number(el.dataset.total)) + "/" + el.dataset.total + " " + (body.dataset.done || "done");
    });
  }
  function initChecklists() {
    document.querySelectorAll("[data-checklist]").forEach(function (list) {
      var pathId = list.dataset.checklist;
      var reset = document.querySelector('[data-reset-checklist="' + CSS.escape(pathId) + '"]');
      var boxes = list.querySelectorAll("input[data-step]");
      function refresh() {
        var done = loadDone(pathId);
        boxes.forEach(function (box) {
          box.checked = done.indexOf(box.dataset.step) >= 0;
          box.closest("li").classList.toggle("done", box.checked);
        });
        if (reset) { reset.hidden = done.length === 0; }
        showProgress();
      }
      boxes.forEach(function (box) {
        box.addEventListener("change", function () {
          var done = loadDone(pathId).filter(function (s) { return s !== box.dataset.step; });
          if (box.checked) { done.push(box.dataset.step); }
          saveDone(pathId, done);
          refresh();
        });
      });
      if (reset) {
        reset.addEventListener("click", function () { saveDone(pathId, []); refresh(); });
      }
      refresh();
    });
    showProgress();
  }

  onReady(function () {
    initLanguageSwitch();
    initCopyButtons();
    document.querySelectorAll("input[data-suggest]").forEach(initSuggest);
    initChecklists();
  });
})();
