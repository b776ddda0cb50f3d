// StackDock dashboard: the little JavaScript it needs, none inline (CSP-friendly).
// Everything works without it; htmx (vendored, served by django-htmx) does the live parts.
(function () {
  "use strict";

  // <select data-autosubmit> submits its form on change (the organization switcher).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form) {
      if (el.form.requestSubmit) { el.form.requestSubmit(); } else { el.form.submit(); }
    }
  });

  // <button data-copy="#selector"> copies that input's value (the new API token).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) { return; }
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) { return; }
    input.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {});
    } else if (document.execCommand && document.execCommand("copy")) {
      done();
    }
  });

  // Buttons that are only needed without JavaScript.
  document.documentElement.classList.add("js");
})();
