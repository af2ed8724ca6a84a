// Switchyard dashboard: refreshes the live panels without reloading the page.
// Fetches the panels fragment every few seconds (same origin, no cache) and swaps it in;
// says so loudly when the data stops updating. No inline script: CSP allows 'self' only.
(function () {
  "use strict";

  var body = document.body;
  var url = body.getAttribute("data-panels-url");
  var every = Number(body.getAttribute("data-refresh-seconds") || "5") * 1000;
  var panels = document.getElementById("panels");
  var indicator = document.getElementById("refresh-status");
  var lastGood = Date.now();
  var timer = null;
  var inFlight = false;

  function clock(date) {
    return date.toISOString().slice(11, 19) + " UTC";
  }

  function syncState(live) {
    if (!live) {
      return;
    }
    var killed = live.getAttribute("data-kill-switch") === "1";
    body.classList.toggle("kill-on", killed);
    body.classList.toggle("kill-off", !killed);
    var mode = live.getAttribute("data-mode") || "unknown";
    document.title = (killed ? "ROLLBACK · " : "") + "Switchyard · " + mode;
  }

  function showFresh() {
    lastGood = Date.now();
    indicator.textContent = "live · updated " + clock(new Date(lastGood));
    indicator.className = "refresh refresh-ok";
  }

  function showStale(reason) {
    var seconds = Math.round((Date.now() - lastGood) / 1000);
    indicator.textContent = "NOT UPDATING (" + reason + ") · last good data " + seconds + " s ago";
    indicator.className = "refresh refresh-stale";
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, every);
  }

  function refresh() {
    if (inFlight || !url || !panels) {
      return;
    }
    inFlight = true;
    var controller = new AbortController();
    var deadline = setTimeout(function () {
      controller.abort();
    }, 10000);
    fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
      signal: controller.signal,
    })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/migration/dashboard/login"); // the session ended
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html;
        panels.replaceChildren(template.content);
        syncState(document.getElementById("live"));
        showFresh();
      })
      .catch(function (error) {
        showStale(error && error.message ? error.message : "unreachable");
      })
      .finally(function () {
        clearTimeout(deadline);
        inFlight = false;
        schedule();
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      refresh();
    }
  });
  syncState(document.getElementById("live"));
  showFresh();
  schedule();
})();
