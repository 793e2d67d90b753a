// Swagger UI for /docs, served by the service itself so that the page's Content-Security-Policy
// needs no inline script. The token a user enters under "Authorize" is kept in sessionStorage:
// it survives a reload of the tab, but not the tab, and never lands in localStorage, where
// Swagger UI's own `persistAuthorization` would keep a SuperAdmin token for good.
"use strict";

(() => {
  const STORAGE_KEY = "voke-esm-docs-authorized";

  function saveAuthorization(system) {
    try {
      const authorized = system.authSelectors.authorized();
      if (authorized && authorized.size) {
        sessionStorage.setItem(STORAGE_KEY, JSON.stringify(authorized.toJS()));
      } else {
        sessionStorage.removeItem(STORAGE_KEY);
      }
    } catch {
      // Storage refused (private mode, quota): the token is simply not kept.
    }
  }

  function SessionAuthorization() {
    const thenSave = (action, system) => (...args) => {
      const result = action(...args);
      saveAuthorization(system);
      return result;
    };
    return {
      statePlugins: {
        auth: {
          wrapActions: {
            authorize: thenSave,
            logout: thenSave,
          },
        },
      },
    };
  }

  const ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    persistAuthorization: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    plugins: [SessionAuthorization],
    onComplete: () => {
      let saved = null;
      try {
        saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
      } catch {
        saved = null;
      }
      if (saved && typeof saved === "object") ui.authActions.authorize(saved);
    },
  });
  window.ui = ui;
})();
