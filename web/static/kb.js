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

  function text(name, fallback) { return body.dataset[name] || fallback; }

  // Theme: light or dark, remembered in this browser (theme.js applies it before the page paints).
  function currentTheme() {
    var chosen = document.documentElement.getAttribute("data-theme");
    if (chosen === "dark" || chosen === "light") { return chosen; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function initThemeToggle() {
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      function label() {
        var dark = currentTheme() === "dark";
        button.setAttribute("aria-pressed", dark ? "true" : "false");
        button.title = text("themeDark", "Dark theme");
      }
      button.addEventListener("click", function () {
        var next = currentTheme() === "dark" ? "light" : "dark";
        document.documentElement.setAttribute("data-theme", next);
        try { localStorage.setItem("kb-theme", next); } catch (e) { /* private mode: this page only */ }
        label();
      });
      label();
    });
  }

  // Phone header: the navigation opens from the menu button.
  function initMenu() {
    var button = document.querySelector("[data-menu-toggle]");
    var header = document.querySelector(".site-header");
    if (!button || !header) { return; }
    button.addEventListener("click", function () {
      var open = header.classList.toggle("nav-open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // Search filters in a drawer on phones: a button above the results opens them.
  function initFiltersDrawer() {
    var layout = document.querySelector(".results-layout");
    var facets = layout && layout.querySelector(".facets");
    if (!facets) { return; }
    facets.id = facets.id || "search-filters";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "icon-button filters-toggle";
    button.textContent = text("filters", "Filters");
    button.setAttribute("aria-controls", facets.id);
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", function () {
      var open = layout.classList.toggle("filters-open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
    layout.parentNode.insertBefore(button, layout);
  }

  // Copy buttons in a toolbar above each code block (never over the code). navigator.clipboard
  // exists only on HTTPS and localhost, so plain-HTTP intranets copy through a selected textarea.
  function copyText(value) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(value).catch(function () { return copyBySelection(value); });
    }
    return copyBySelection(value);
  }
  function copyBySelection(value) {
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = value;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      document.body.removeChild(area);
      if (done) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }
  function initCodeBlocks() {
    document.querySelectorAll(".article-body pre, .code-copy pre").forEach(function (pre) {
      var code = pre.querySelector("code") || pre;
      var block = document.createElement("div");
      block.className = "code-block";
      var tools = document.createElement("div");
      tools.className = "code-tools";
      var language = /(?:^|\s)language-(\S+)/.exec(code.className || "");
      if (language) {
        var name = document.createElement("span");
        name.className = "code-language";
        name.textContent = language[1];
        tools.appendChild(name);
      }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-button";
      button.textContent = text("copy", "Copy");
      button.addEventListener("click", function () {
        copyText(code.innerText.replace(/\n$/, "")).then(function () {
          button.textContent = text("copied", "Copied");
          button.setAttribute("data-copied", "");
        }, function () {
          button.textContent = text("copyFailed", "Press Ctrl+C");
        }).then(function () {
          setTimeout(function () {
            button.textContent = text("copy", "Copy");
            button.removeAttribute("data-copied");
          }, 2000);
        });
      });
      tools.appendChild(button);
      pre.parentNode.insertBefore(block, pre);
      block.appendChild(tools);
      block.appendChild(pre);
    });
  }

  // Heading permalinks (rendered by the build) get a label in the interface language.
  function initPermalinks() {
    document.querySelectorAll(".article-body .headerlink").forEach(function (link) {
      link.setAttribute("aria-label", text("permalink", "Link to this section"));
      link.title = text("permalink", "Link to this section");
    });
  }

  // The table of contents marks the section being read.
  function initTocSpy() {
    var links = document.querySelectorAll(".toc a[href^='#']");
    if (!links.length || !("IntersectionObserver" in window)) { return; }
    var byId = {}, headings = [];
    links.forEach(function (a) {
      var target = document.getElementById(decodeURIComponent(a.getAttribute("href").slice(1)));
      if (target) { byId[target.id] = a; headings.push(target); }
    });
    function mark() {
      var current = null;
      headings.forEach(function (h) { if (h.getBoundingClientRect().top < window.innerHeight * 0.35) { current = h; } });
      current = current || headings[0];
      links.forEach(function (a) { a.removeAttribute("aria-current"); });
      if (current && byId[current.id]) { byId[current.id].setAttribute("aria-current", "true"); }
    }
    var observer = new IntersectionObserver(mark, { rootMargin: "0px 0px -65% 0px" });
    headings.forEach(function (h) { observer.observe(h); });
    window.addEventListener("scroll", mark, { passive: true });
    mark();
  }

  // "/" and Ctrl+K (Cmd+K) focus the search box; Esc in it closes the suggestions.
  function searchBox() {
    var boxes = document.querySelectorAll("input[data-suggest]");
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].offsetParent !== null) { return boxes[i]; }
    }
    return boxes[0] || null;
  }
  function typingIn(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  function initShortcuts() {
    document.addEventListener("keydown", function (event) {
      var modK = (event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "k" || event.key === "K");
      var slash = event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !typingIn(event.target);
      if (!modK && !slash) { return; }
      var box = searchBox();
      if (!box) { return; }
      event.preventDefault();
      box.focus();
      box.select();
    });
  }

  // Search as you type: completions of what is typed (titles, error codes, ids, products), the
  // typed part in bold, and a last row for all results. Nothing typed is spell-corrected.
  function initSuggest(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    if (!list) { return; }
    var timer = null, active = -1, lastQuery = null, controller = null;
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
    function marked(value, marks) {
      var span = document.createElement("span");
      span.className = "text";
      var last = 0;
      (marks || []).forEach(function (m) {
        if (m[0] > last) { span.appendChild(document.createTextNode(value.slice(last, m[0]))); }
        var mark = document.createElement("mark");
        mark.textContent = value.slice(m[0], m[1]);
        span.appendChild(mark);
        last = m[1];
      });
      span.appendChild(document.createTextNode(value.slice(last)));
      return span;
    }
    function option(index, href, content, kindLabel, lang) {
      var li = document.createElement("li");
      li.id = list.id + "-" + index;
      li.setAttribute("role", "option");
      var a = document.createElement("a");
      a.href = href;
      a.tabIndex = -1;
      if (lang) { a.lang = lang; }
      if (kindLabel) { a.setAttribute("data-kind-label", kindLabel); }
      a.appendChild(content);
      li.appendChild(a);
      return li;
    }
    function show(data, typed) {
      list.textContent = "";
      var labels = { title: text("kindTitle", "Article"), id: text("kindId", "Article id"),
                     error: text("kindError", "Error code"), product: text("kindProduct", "Product") };
      var items = data.completions || [];
      items.forEach(function (c, i) {
        // An article picked while typing goes through /go/typed/: the query the user settled on is logged
        // with the pick; keystrokes are not.
        var href = (c.kind === "title" || c.kind === "id") && body.dataset.typedUrl
          ? body.dataset.typedUrl.replace(/ID$/, c.target.split("/").map(encodeURIComponent).join("/")) +
            "?q=" + encodeURIComponent(typed) + "&n=" + items.length
          : c.url;
        list.appendChild(option(i, href, marked(c.text, c.marks), labels[c.kind] || "", c.lang));
      });
      var all = document.createElement("span");
      all.className = "text";
      all.textContent = text("seeAll", "See all results for") + " “" + typed + "”";
      var last = option(items.length, data.search_url, all, "", "");
      last.className = "see-all";
      list.appendChild(last);
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }
    function fetchCompletions() {
      var q = input.value.replace(/^\s+/, "");
      if (q === lastQuery) { return; }
      lastQuery = q;
      if (!q.trim()) { close(); return; }
      if (controller) { controller.abort(); }
      controller = new AbortController();
      var url = body.dataset.completeUrl + "?limit=8&q=" + encodeURIComponent(q);
      fetch(url, { signal: controller.signal, headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (data && input.value.replace(/^\s+/, "") === q) { show(data, q.trim()); }
        })
        .catch(function () { /* aborted or offline: the form still works */ });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchCompletions, 120);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        if (!list.hidden) { event.preventDefault(); close(); lastQuery = null; }
        return;
      }
      var count = list.querySelectorAll("li").length;
      if (list.hidden || !count) { return; }
      if (event.key === "ArrowDown") { event.preventDefault(); select((active + 1) % count); }
      else if (event.key === "ArrowUp") { event.preventDefault(); select(active <= 0 ? count - 1 : active - 1); }
      else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        window.location.href = list.querySelectorAll("li a")[active].href;
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 200); });
  }

  // Recently viewed articles, kept in this browser and listed on the home page.
  var RECENT_KEY = "kb-recently-viewed", RECENT_MAX = 8;
  function loadRecent() {
    try {
      var items = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
      return Array.isArray(items) ? items : [];
    } catch (e) { return []; }
  }
  function rememberArticle() {
    var article = document.querySelector("article[data-article-id]");
    if (!article) { return; }
    var entry = { id: article.dataset.articleId, title: article.dataset.articleTitle, lang: article.lang,
                  url: window.location.pathname };
    var items = loadRecent().filter(function (item) { return item && item.id !== entry.id; });
    items.unshift(entry);
    try { localStorage.setItem(RECENT_KEY, JSON.stringify(items.slice(0, RECENT_MAX))); } catch (e) { /* full */ }
  }
  function showRecent() {
    var section = document.querySelector("[data-recently-viewed]");
    if (!section) { return; }
    var list = section.querySelector("ol");
    var items = loadRecent().filter(function (item) {
      return item && typeof item.url === "string" && item.url.indexOf("/") === 0 && item.url.indexOf("//") !== 0;
    });
    items.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = item.url;
      a.textContent = item.title || item.id;
      if (item.lang) { a.lang = item.lang; }
      li.appendChild(a);
      list.appendChild(li);
    });
    section.hidden = items.length === 0;
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
      var done = Math.min(loadDone(el.dataset.progressFor).length, Number(el.dataset.total));
      el.textContent = done + "/" + el.dataset.total + " " + (body.dataset.done || "done");
    });
    document.querySelectorAll("progress[data-progress-bar-for]").forEach(function (bar) {
      var done = Math.min(loadDone(bar.dataset.progressBarFor).length, Number(bar.max));
      bar.value = done;
      bar.textContent = done + "/" + bar.max;
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
    initThemeToggle();
    initMenu();
    initFiltersDrawer();
    initCodeBlocks();
    initPermalinks();
    initTocSpy();
    initShortcuts();
    document.querySelectorAll("input[data-suggest]").forEach(initSuggest);
    initChecklists();
    rememberArticle();
    showRecent();
  });
})();
