/* Starts Swagger UI on /api/v1/docs (templates/api/docs.html). A file rather than an inline script,
   so the page keeps the site's Content-Security-Policy (script-src 'self'). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("swagger-settings").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  config.dom_id = "#swagger-ui";
  config.presets = [SwaggerUIBundle.presets.apis];
  config.requestInterceptor = function (request) {
    // A signed-in session needs the token for unsafe methods; a bearer token ignores it.
    request.headers["X-CSRFToken"] = csrf;
    return request;
  };
  config.onComplete = function () {
    // Swagger UI renders the server choice as a <select> with no label (an accessibility error).
    var servers = document.getElementById("servers");
    if (servers && !servers.hasAttribute("aria-label")) servers.setAttribute("aria-label", "Server");
  };
  SwaggerUIBundle(config);
})();
