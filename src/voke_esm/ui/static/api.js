// The service's JSON API, and its error envelope turned into sentences (CONTRACT §2).

export class ApiError extends Error {
  constructor(status, envelope, retryAfter) {
    super(envelope.message || `The service answered ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = envelope.code || "HTTP_" + status;
    this.details = envelope.details || {};
    this.retryAfter = retryAfter;
  }

  /** [{field, message}] from a 400 VALIDATION_ERROR; [] otherwise. */
  get fieldErrors() {
    const errors = this.details && this.details.errors;
    return Array.isArray(errors) ? errors : [];
  }
}

/** fetch() failed: no answer at all (service down, connection refused). */
export class NetworkError extends Error {
  constructor() {
    super("Cannot reach the Voke ESM service. Check that it is running, then try again.");
    this.name = "NetworkError";
  }
}

export async function request(method, path, options = {}) {
  return (await requestWithHeaders(method, path, options)).data;
}

/** Like request(), with the answer's headers too (a plant's ETag, CONTRACT §4). */
export async function requestWithHeaders(method, path, options = {}) {
  const { token, body, query, headers: extra } = options;
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null) url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json", ...extra };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";

  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new NetworkError();
  }

  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.ok) return { data, headers: response.headers };

  const envelope =
    data && typeof data === "object" && !Array.isArray(data)
      ? data
      : { message: `The service answered ${response.status} ${response.statusText}`.trim() };
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  throw new ApiError(response.status, envelope, Number.isFinite(retryAfter) ? retryAfter : null);
}

function seconds(n) {
  return n === 1 ? "1 second" : `${n} seconds`;
}

/** One readable sentence (or two) for any failure; never raw JSON. */
export function describeError(error) {
  if (error instanceof NetworkError) return error.message;
  if (!(error instanceof ApiError)) {
    return "Something went wrong in the page. Reload it and try again.";
  }
  switch (error.code) {
    case "RATE_LIMITED":
      return error.retryAfter
        ? `Too many requests. Try again in ${seconds(error.retryAfter)}.`
        : "Too many requests. Wait a moment, then try again.";
    case "UNAUTHORIZED":
      return `${sentence(error.message)} Sign in again.`;
    case "FORBIDDEN":
      return "This needs a SuperAdmin account.";
    case "PRECONDITION_FAILED":
      return "This changed since you opened it: nothing was saved. Reload it, then try again.";
    case "SERVICE_UNAVAILABLE":
      return "The service cannot reach its database right now. Try again shortly.";
    case "INTERNAL_SERVER_ERROR":
      return (
        "The service hit an unexpected error. " +
        "Try again; if it keeps happening, check the service log."
      );
    case "VALIDATION_ERROR": {
      const errors = error.fieldErrors;
      if (!errors.length) return sentence(error.message);
      const listed = errors.map((e) => `${e.field} ${e.message}`).join("; ");
      return `${sentence(error.message, "")}: ${listed}.`;
    }
    default:
      return sentence(error.message);
  }
}

/** "voke ESM plant not found" -> "Voke ESM plant not found." */
export function sentence(text, end = ".") {
  const trimmed = String(text || "").trim();
  if (!trimmed) return "The request failed" + end;
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?:]$/.test(capital) ? capital : capital + end;
}
