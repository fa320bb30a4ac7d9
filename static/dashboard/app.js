/* Jobdeck dashboard behaviour: CSRF for htmx, theme, live updates over WebSocket (htmx-ext-ws), toasts.
   Loaded with `defer` after htmx and its ws extension; no inline script anywhere, so a strict
   Content-Security-Policy holds. Every page works without this file, apart from live updates. */
(function () {
  "use strict";

  /* CSRF: htmx requests carry the token from the meta tag; so do plain POST forms whose token was
     left empty because the server rendered them for a WebSocket update (no request, no token). */
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  document.body.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || (form.method || "").toLowerCase() !== "post") return;
    var field = form.querySelector('input[name="csrfmiddlewaretoken"]');
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "csrfmiddlewaretoken";
      form.appendChild(field);
    }
    if (!field.value) field.value = csrfToken();
  }, true);

  /* Theme: system -> light -> dark. A cookie, so the server renders the right theme at once. */
  var themes = ["system", "light", "dark"];
  var themeButton = document.getElementById("theme-toggle");
  function showTheme(theme) {
    document.documentElement.dataset.theme = theme;
    if (themeButton) themeButton.textContent = "Theme: " + theme;
  }
  if (themeButton) {
    themeButton.hidden = false;
    showTheme(document.documentElement.dataset.theme || "system");
    themeButton.addEventListener("click", function () {
      var next = themes[(themes.indexOf(document.documentElement.dataset.theme) + 1) % themes.length];
      document.cookie = "jobdeck_theme=" + next + "; path=/; max-age=31536000; SameSite=Lax";
      showTheme(next);
    });
  }

  /* Toasts: from htmx responses (HX-Trigger: toast) and failed htmx requests. */
  function toast(text, level) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var p = document.createElement("p");
    p.className = "toast " + (level || "info");
    p.textContent = text;
    box.appendChild(p);
    while (box.children.length > 5) box.removeChild(box.firstChild);
  }
  document.body.addEventListener("toast", function (event) {
    toast(event.detail.text, event.detail.level);
  });

  /* Bulk selection: "select all" checks every row on the page. The checked-jobs buttons show only
     while a row is checked (app.css hides #bulk-form under .js otherwise; without JavaScript they
     always show). */
  document.documentElement.classList.add("js");
  function showBulkButtons() {
    var form = document.getElementById("bulk-form");
    if (form) form.classList.toggle("has-checked", !!document.querySelector('#job-rows input[name="ids"]:checked'));
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "select-all") {
      document.querySelectorAll('#job-rows input[name="ids"]').forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
    showBulkButtons();
  });
  document.body.addEventListener("htmx:afterSettle", showBulkButtons);
  showBulkButtons();

  /* Relative times: <time class="rel" datetime=...> reads "5 minutes ago", with the exact UTC time in
     its title (dashboard/templatetags/dashboard.py renders them; this keeps the wording current). */
  var UNITS = [["year", 365 * 86400], ["month", 30 * 86400], ["week", 7 * 86400], ["day", 86400],
               ["hour", 3600], ["minute", 60]];
  function relativeText(when, now) {
    var gap = Math.abs(now - when) / 1000;
    var span;
    if (gap < 60) {
      span = Math.round(gap) + " s";
    } else {
      for (var i = 0; i < UNITS.length; i++) {
        var count = Math.floor(gap / UNITS[i][1]);
        if (count >= 1) {
          span = count + "\u00a0" + UNITS[i][0] + (count === 1 ? "" : "s");
          break;
        }
      }
    }
    return when > now ? "in " + span : span + " ago";
  }
  function refreshTimes() {
    var now = Date.now();
    document.querySelectorAll("time.rel[datetime]").forEach(function (el) {
      var when = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(when)) el.textContent = relativeText(when, now);
    });
  }
  setInterval(refreshTimes, 5000);

  /* Keyboard shortcuts; "?" lists them (the <dialog id="shortcuts"> in base.html). */
  var help = document.getElementById("shortcuts");
  var helpButton = document.getElementById("help-toggle");
  function toggleHelp() {
    if (!help || typeof help.showModal !== "function") return;
    if (help.open) help.close();
    else help.showModal();
  }
  if (helpButton && help) {
    helpButton.hidden = false;
    helpButton.addEventListener("click", toggleHelp);
  }

  function jobRows() {
    return Array.prototype.slice.call(document.querySelectorAll("#job-rows tr[data-job-id]"));
  }
  var focusedId = null;
  function showFocus(moveFocus) {
    var found = null;
    jobRows().forEach(function (row) {
      var on = row.dataset.jobId === focusedId;
      row.classList.toggle("is-focused", on);
      if (on) found = row;
    });
    if (found && moveFocus) {
      found.tabIndex = -1;
      found.focus({ preventScroll: true });
      found.scrollIntoView({ block: "nearest" });
    }
    return found;
  }
  function moveRow(step) {
    var rows = jobRows();
    if (!rows.length) return;
    var ids = rows.map(function (row) { return row.dataset.jobId; });
    var at = ids.indexOf(focusedId);
    at = at < 0 ? (step > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, at + step));
    focusedId = ids[at];
    showFocus(true);
  }
  // Live updates replace rows: keep the selection on the same job.
  document.body.addEventListener("htmx:wsAfterMessage", function () {
    if (focusedId !== null) showFocus(document.activeElement === document.body);
  });

  /* r / c: the same POST the job page's buttons send (dashboard:job_retry / job_cancel), so the server
     checks the role and the job's state; the answer redirects back here with a message. */
  function postAction(kind, jobId) {
    var template = help && help.dataset[kind + "Url"];
    if (!template) return;
    var form = document.createElement("form");
    form.method = "post";
    form.action = template.replace("/0/", "/" + encodeURIComponent(jobId) + "/");
    [["csrfmiddlewaretoken", csrfToken()], ["next", location.pathname + location.search]].forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  }
  function act(kind) {
    var row = showFocus(false);
    var onJobPage = !row && document.getElementById("job-live") !== null;
    if (!row && !onJobPage) {
      toast("Select a job first (j / k).", "warning");
      return;
    }
    if (!document.body.hasAttribute("data-operate")) {
      toast("Your role cannot " + kind + " jobs.", "error");
      return;
    }
    if (row) {
      if (kind === "cancel" && !window.confirm("Cancel job #" + row.dataset.jobId + "?")) return;
      postAction(kind, row.dataset.jobId);
      return;
    }
    // On a job's page: press that page's own button (htmx swaps the result in).
    var button = document.querySelector('#job-live form[action$="/' + kind + '/"] button');
    if (!button) {
      toast("This job cannot be " + (kind === "cancel" ? "cancelled" : "retried") + " now.", "warning");
      return;
    }
    if (kind === "cancel" && !window.confirm("Cancel this job?")) return;
    button.click();
  }

  function focusSearch() {
    var box = document.querySelector("#job-search, [role=search] input[type=search], input[type=search]");
    if (box) {
      box.focus();
      box.select();
    } else if (help && help.dataset.searchUrl) {
      location.href = help.dataset.searchUrl + "#search";
    }
  }
  if (location.hash === "#search") focusSearch();

  var pendingG = 0;
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var el = event.target;
    var typing = el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
    if (typing) {
      if (event.key === "Escape" && el.blur) el.blur();
      return;
    }
    var key = event.key;
    // Enter on a link or button keeps its own meaning; it opens the selected row only from the page.
    if (key === "Enter" && el !== document.body && !(el.matches && el.matches("tr[data-job-id]"))) return;
    if (help && help.open && key !== "?" && key !== "Escape") return;
    if (Date.now() - pendingG < 1500) {
      pendingG = 0;
      var link = help && help.querySelector('a[data-go="' + key + '"]');
      if (link) {
        event.preventDefault();
        location.href = link.href;
      }
      return;
    }
    var handlers = {
      "?": toggleHelp,
      "/": focusSearch,
      g: function () { pendingG = Date.now(); },
      j: function () { moveRow(1); },
      k: function () { moveRow(-1); },
      r: function () { act("retry"); },
      c: function () { act("cancel"); },
      Enter: function () {
        var row = showFocus(false);
        var link = row && row.querySelector('a[href]');
        if (link) location.href = link.href;
        else return false;
      },
    };
    if (!handlers[key]) return;
    if (handlers[key]() === false) return;
    event.preventDefault();
  });

  /* Live updates. The page names its WebSocket address in #live[data-live-url]; app.js opens it
     through htmx-ext-ws, whose messages are HTML fragments swapped into the page by element id.
     Every message ends with #live-cursor, the newest event id the page has seen; a (re)connection
     sends it as ?after= so the server replays what was missed. */
  var live = document.getElementById("live");
  if (!live || !window.htmx) return;
  var stateLabel = document.getElementById("live-state");
  var pauseButton = document.getElementById("live-pause");
  var socketHolder = null;
  var userPaused = false;
  var retryTimer = null;
  var retries = 0;

  function setState(state, text) {
    stateLabel.dataset.state = state;
    stateLabel.textContent = text || state;
    live.dataset.state = state;
  }

  function cursor() {
    var el = document.getElementById("live-cursor");
    return el ? el.dataset.eventId || "0" : "0";
  }

  function shownJobIds() {
    var ids = [];
    document.querySelectorAll("[data-live-rows] [data-job-id]").forEach(function (row) {
      ids.push(row.dataset.jobId);
    });
    return ids.slice(0, 500).join(",");
  }

  htmx.createWebSocket = function (url) {
    var full = url + (url.indexOf("?") >= 0 ? "&" : "?") + "after=" + encodeURIComponent(cursor());
    var ids = shownJobIds();
    if (ids) full += "&ids=" + ids;
    var socket = new WebSocket(full);
    socket.binaryType = htmx.config.wsBinaryType;
    return socket;
  };

  function connect() {
    if (socketHolder) return;
    clearTimeout(retryTimer);
    socketHolder = document.createElement("div");
    socketHolder.setAttribute("hx-ext", "ws");
    socketHolder.setAttribute("ws-connect", live.dataset.liveUrl);
    socketHolder.hidden = true;
    live.appendChild(socketHolder);
    htmx.process(socketHolder);
  }

  function disconnect() {
    clearTimeout(retryTimer);
    if (!socketHolder) return;
    var holder = socketHolder;
    socketHolder = null;
    htmx.trigger(holder, "htmx:beforeCleanupElement"); // the ws extension closes its socket on this
    holder.remove();
  }

  live.addEventListener("htmx:wsConnecting", function () {
    setState("connecting", retries ? "reconnecting…" : "connecting…");
  });
  live.addEventListener("htmx:wsOpen", function () {
    retries = 0;
    setState("live");
  });
  live.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail.event.code;
    if (userPaused || document.hidden || !socketHolder) return; // closed on purpose
    if (code === 4003) {
      disconnect();
      setState("refused", "refused: sign in again");
      return;
    }
    retries += 1;
    setState("reconnecting", "reconnecting…");
    // The extension itself retries abnormal closes (1006, 1011-1013); any other close, such as a
    // server going away (1001), is retried here with a capped backoff.
    if ([1006, 1011, 1012, 1013].indexOf(code) < 0) {
      disconnect();
      retryTimer = setTimeout(connect, Math.min(10000, 500 * Math.pow(2, retries)));
    }
  });

  /* Keep checked boxes checked when their rows are replaced by an update. */
  var checked = [];
  live.addEventListener("htmx:wsBeforeMessage", function () {
    checked = [];
    document.querySelectorAll('#job-rows input[name="ids"]:checked').forEach(function (box) {
      checked.push(box.value);
    });
  });
  live.addEventListener("htmx:wsAfterMessage", function () {
    checked.forEach(function (id) {
      var box = document.querySelector('#job-rows input[name="ids"][value="' + id + '"]');
      if (box) box.checked = true;
    });
    showBulkButtons();
  });

  function pause(reason) {
    disconnect();
    setState("paused", reason);
    pauseButton.textContent = "Resume";
  }
  function resume() {
    pauseButton.textContent = "Pause";
    connect();
  }

  pauseButton.hidden = false;
  pauseButton.addEventListener("click", function () {
    userPaused = !userPaused;
    if (userPaused) pause("paused");
    else resume();
  });
  document.addEventListener("visibilitychange", function () {
    if (userPaused) return;
    if (document.hidden) pause("paused (tab hidden)");
    else resume();
  });

  if (document.hidden) pause("paused (tab hidden)");
  else connect();
})();
