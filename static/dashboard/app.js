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

  /* Bulk selection: "select all" checks every row on the page. */
  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "select-all") {
      document.querySelectorAll('#job-rows input[name="ids"]').forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
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
