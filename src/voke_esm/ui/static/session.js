// The signed-in session: the token and the API calls made with it. A 401 ends the session: the
// handler the sign-in view registers takes the page back.
// The token is shared by the tabs of this origin (localStorage, so that a second tab needs no
// second sign-in, and signing out in one tab signs out all of them), with a copy per tab
// (sessionStorage). Its lifetime stays the token's own: one past its `exp` is never used, and the
// service still checks every call.
import { ApiError, requestWithHeaders } from "./api.js";
import { state } from "./state.js";

const TOKEN_KEY = "voke-esm.token";
export const ADMIN = "/api/v1/voke-esm/admin";

/** The API said 401: the page has already gone back to sign-in, callers just stop. */
export class SessionEnded extends Error {}

let onSessionEnded = () => {};

/** `handler(message)` runs when the service ends the session (a 401 to any call). */
export function whenSessionEnds(handler) {
  onSessionEnded = handler;
}

/** The `exp` of a JWT in ms, or null when it has none we can read (the service decides). */
function expiresAt(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

function expired(token) {
  const exp = expiresAt(token);
  return exp !== null && exp <= Date.now();
}

function storedToken() {
  const token = localStorage.getItem(TOKEN_KEY) || sessionStorage.getItem(TOKEN_KEY);
  if (token && expired(token)) {
    forgetToken();
    return null;
  }
  return token;
}

/** The token of this tab, or of a tab of this origin signed in since, back into the state. */
export function restoreToken() {
  state.token = storedToken();
}

export function keepToken(token) {
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  localStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
  state.token = null;
}

/**
 * Another tab signed in (`onSignIn(token)`) or out (`onSignOut()`): the `storage` event fires in
 * every other tab of the origin when localStorage changes.
 */
export function followOtherTabs({ onSignIn, onSignOut }) {
  addEventListener("storage", (event) => {
    if (event.key !== TOKEN_KEY && event.key !== null) return;
    const token = localStorage.getItem(TOKEN_KEY);
    if (!token) {
      if (state.token) {
        sessionStorage.removeItem(TOKEN_KEY);
        onSignOut();
      }
    } else if (token !== state.token && !expired(token)) {
      sessionStorage.setItem(TOKEN_KEY, token);
      state.token = token;
      onSignIn(token);
    }
  });
}

export async function api(method, path, options = {}) {
  return (await apiWithHeaders(method, path, options)).data;
}

/** api() with the answer's headers: {data, headers}. */
export async function apiWithHeaders(method, path, options = {}) {
  try {
    return await requestWithHeaders(method, path, { ...options, token: state.token });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      onSessionEnded("Your session has ended. Sign in again to continue.");
      throw new SessionEnded();
    }
    throw error;
  }
}
