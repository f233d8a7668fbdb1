// Outflow console: refreshes the parts of a page that follow a run, copies
// "curl" commands, shows times in the browser's zone. Served as a file so
// that the Content-Security-Policy can forbid inline script.
"use strict";

(function () {
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d.getTime())) {
        el.title = el.textContent;
        el.textContent = d.toLocaleString();
      }
    });
  }

  // An element with data-refresh is replaced, every data-interval
  // milliseconds, by what its URL answers. A page section whose run ended
  // (X-Outflow-Ended) reloads the whole page once, for the final record.
  function follow(el) {
    var url = el.getAttribute("data-refresh");
    var every = parseInt(el.getAttribute("data-interval"), 10) || 2000;
    var toggle = document.getElementById("live-toggle");
    var busy = false;
    function tick() {
      if (busy || document.hidden || (toggle && !toggle.checked)) {
        return;
      }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (resp) {
          if (!resp.ok) {
            throw new Error("HTTP " + resp.status);
          }
          var ended = resp.headers.get("X-Outflow-Ended") === "1";
          return resp.text().then(function (html) {
            el.innerHTML = html;
            localTimes(el);
            el.setAttribute("data-updated", String(Date.now()));
            if (ended && el.hasAttribute("data-reload-when-ended")) {
              clearInterval(timer);
              window.location.reload();
            }
          });
        })
        .catch(function (err) {
          el.setAttribute("data-refresh-error", String(err.message || err));
        })
        .finally(function () { busy = false; });
    }
    var timer = setInterval(tick, every);
  }

  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var src = document.getElementById(btn.getAttribute("data-copy"));
        var done = document.getElementById("copied");
        var show = function () { if (done) { done.hidden = false; } };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(src.value).then(show, function () {
            src.select();
            document.execCommand("copy");
            show();
          });
        } else {
          src.select();
          document.execCommand("copy");
          show();
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-tz]").forEach(function (el) {
      el.value = String(-new Date().getTimezoneOffset());
    });
    localTimes(document);
    document.querySelectorAll("[data-refresh]").forEach(follow);
    copyButtons();
    document.body.setAttribute("data-ready", "1");
  });
})();
