/* The entry page (static file: the CSP allows no inline script).
   - While someone types, the session is kept from idling out: a light request at most every few minutes,
     never without input, so an unattended page still ends at the idle timeout (and any page at the absolute one).
   - Leaving a page with unsaved changes asks first (beforeunload).
   The form is swapped by htmx after a refused save: everything listens on the document. */
(function () {
  "use strict";
  var PING_EVERY_MS = 4 * 60 * 1000;
  var WARN_BEFORE_END_S = 10 * 60;
  var dirty = false;
  var leaving = false;
  var lastPing = Date.now();
  var warned = false;

  function recordForm() { return document.getElementById("record-form"); }
  function inForm(node) { var form = recordForm(); return !!(form && node && form.contains(node)); }
  function csrfToken() {
    var input = recordForm() && recordForm().querySelector('input[name="_csrf_token"]');
    return input ? input.value : "";
  }

  function message(name) {
    var texts = document.getElementById("entry-messages");
    return texts ? texts.getAttribute("data-session-" + name) || "" : "";
  }

  function note(text) {
    var box = document.getElementById("session-note");
    if (!box) {
      box = document.createElement("p");
      box.id = "session-note";
      box.className = "flash warning session-note";
      box.setAttribute("role", "status");
      var form = recordForm();
      if (!form) { return; }
      form.parentNode.insertBefore(box, form.nextSibling);
    }
    box.textContent = text;
  }

  function keepAlive() {
    lastPing = Date.now();
    fetch("/session/keepalive", {method: "POST", credentials: "same-origin", redirect: "manual",
                                 headers: {"x-csrftoken": csrfToken(), "Accept": "application/json"}})
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401) {
          note(message("ended"));
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        if (answer && typeof answer.ends_in === "number" && answer.ends_in < WARN_BEFORE_END_S && !warned) {
          warned = true;
          note(message("ending"));
        }
      })
      .catch(function () { /* offline for a moment: the next keystroke tries again */ });
  }

  function typed(event) {
    if (!inForm(event.target)) { return; }
    dirty = true;
    if (Date.now() - lastPing >= PING_EVERY_MS) { keepAlive(); }
  }

  document.addEventListener("input", typed, true);
  document.addEventListener("change", typed, true);
  document.addEventListener("submit", function (event) {
    if (event.target === recordForm()) { leaving = true; }
  }, true);
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    // a save that went through (or a session that ended, its work kept) navigates away: no question then
    leaving = !!(xhr && xhr.getResponseHeader("HX-Redirect"));
  });
  window.addEventListener("beforeunload", function (event) {
    var form = recordForm();
    if (dirty && !leaving && form && form.tagName === "FORM") {  // a refusal that replaced the form leaves nothing to lose
      event.preventDefault();
      event.returnValue = "";
    }
  });
  function restoredForm() {
    var form = recordForm();
    if (form && form.getAttribute("data-unsaved") === "true") { dirty = true; }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", restoredForm); } else { restoredForm(); }
})();
