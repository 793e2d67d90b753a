// The signed-in session: the token kept for the tab (sessionStorage) and the API calls made
// with it. A 401 ends the session: the handler the sign-in view registers takes the page back.
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

/** The token this tab signed in with, if any, back into the state. */
export function restoreToken() {
  state.token = sessionStorage.getItem(TOKEN_KEY);
}

export function keepToken(token) {
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
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
