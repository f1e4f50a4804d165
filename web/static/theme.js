// kb: the reader's theme, applied before the page paints (loaded without defer, in <head>).
(function () {
  "use strict";
  try {
    var theme = localStorage.getItem("kb-theme");
    if (theme === "dark" || theme === "light") { document.documentElement.setAttribute("data-theme", theme); }
  } catch (e) { /* storage blocked: follow the system */ }
})();
