// The attempt page: save the answers in the background on every change, so that a reload or
// a lost connection loses nothing. Without this script the "Save my answers" button does it.
(function () {
  "use strict";
  var form = document.getElementById("attempt-form");
  if (!form || !window.fetch || !window.FormData) return;
  var status = document.getElementById("save-status");
  var pending = null;
  var inFlight = false;
  var again = false;

  function say(text) { if (status) status.textContent = text; }

  function save() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    fetch(form.getAttribute("data-save-url"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (response.status === 409) {
        return response.json().then(function (data) { window.location.assign(data.result); });
      }
      if (!response.ok) throw new Error(String(response.status));
      var now = new Date();
      var time = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      say(form.getAttribute("data-saved-text").replace("{time}", time));
    }).catch(function () {
      say(form.getAttribute("data-error-text"));
    }).then(function () {
      inFlight = false;
      if (again) { again = false; save(); }
    });
  }

  function later() {
    if (pending) clearTimeout(pending);
    pending = setTimeout(save, 400);
  }

  form.addEventListener("change", later);
  form.addEventListener("input", function (event) {
    if (event.target && event.target.type === "text") later();
  });
})();
