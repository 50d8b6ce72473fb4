// Swagger UI over this service's own /openapi.json: "Try it out" calls the same origin, and
// "Authorize" takes the bearer credentials the document declares (owner, admin, app, user).
// The bundle comes from npm (swagger-ui-dist) and is served from /vendor/: nothing from elsewhere.
window.ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  // No "validator.swagger.io" badge: it would send the document to another site.
  validatorUrl: null,
});
