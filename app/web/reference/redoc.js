// ReDoc over this service's own /openapi.json. The standalone bundle comes from npm (redoc) and
// is served from /vendor/; it loads nothing from elsewhere.
window.Redoc.init(
  "/openapi.json",
  { expandResponses: "200,201" },
  document.getElementById("redoc"),
);
