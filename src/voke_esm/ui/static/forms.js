// Forms: a 400's details.errors shown beside their fields (the rest in the form's summary
// line), the fields of repeated rows (time-config blocks, fault rules), and numbers as typed.
import { ApiError, describeError, sentence } from "./api.js";
import { $, $$, el } from "./dom.js";
import { SessionEnded } from "./session.js";

export function clearErrors(form) {
  for (const node of $$(".field-error", form)) {
    node.hidden = true;
    node.textContent = "";
  }
  for (const input of $$("[aria-invalid]", form)) input.removeAttribute("aria-invalid");
  const summary = $(".form-error", form);
  if (summary) summary.hidden = true;
}

export function clearFieldError(input) {
  input.removeAttribute("aria-invalid");
  const id = input.dataset.errorId;
  const node = id && document.getElementById(id);
  if (node) node.hidden = true;
}

export function showFormError(form, message) {
  const summary = $(".form-error", form);
  summary.textContent = message;
  summary.hidden = false;
}

function readableFieldError(field, message) {
  let text = String(message);
  // The API counts blocks from 0 ("overlaps block 0"), like its paths; the editor counts from 1.
  if (field.startsWith("timeConfigs[")) {
    text = text.replace(/\bblock (\d+)\b/g, (_, n) => `block ${Number(n) + 1}`);
  }
  return sentence(text);
}

function fieldLabel(field) {
  return field
    .replace(/^timeConfigs\[(\d+)\]\.?/, (_, n) => `Block ${Number(n) + 1} `)
    .replace(/^rules\[(\d+)\]\.?/, (_, n) => `Rule ${Number(n) + 1} `)
    .replace(/^timeConfigs$/, "Time config")
    .trim();
}

/** Puts each {field, message} beside its field; the rest go to the form's summary line. */
export function showFieldErrors(form, errors, fallbackMessage) {
  clearErrors(form);
  const byField = new Map();
  for (const { field, message } of errors) {
    const messages = byField.get(field) || [];
    const text = readableFieldError(field, message);
    if (!messages.includes(text)) messages.push(text);
    byField.set(field, messages);
  }
  for (const messages of byField.values()) {
    // A number field fails both branches of "integer or float": one sentence says it all.
    const integer = messages.indexOf("Input should be a valid integer.");
    if (integer >= 0 && messages.includes("Input should be a valid number.")) {
      messages.splice(integer, 1);
    }
  }
  const unplaced = [];
  let first = null;
  for (const [field, messages] of byField) {
    const node = $(`[data-error-for="${CSS.escape(field)}"]`, form);
    if (!node) {
      unplaced.push(`${fieldLabel(field)}: ${messages.join(" ")}`);
      continue;
    }
    node.textContent = messages.join(" ");
    node.hidden = false;
    const input = $(`[data-field="${CSS.escape(field)}"]`, form);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
  }
  const placed = byField.size - unplaced.length;
  const parts = [];
  if (placed === 1) parts.push("Fix the marked field.");
  if (placed > 1) parts.push(`Fix the ${placed} marked fields.`);
  if (unplaced.length) parts.push(unplaced.join(" "));
  showFormError(form, parts.join(" ") || sentence(fallbackMessage));
  (first || $(".form-error", form)).focus?.();
}

/** A failed submit: field errors beside their fields, anything else in the summary line. */
export function showSubmitError(form, error) {
  if (error instanceof SessionEnded) return;
  if (error instanceof ApiError && error.fieldErrors.length) {
    showFieldErrors(form, error.fieldErrors, error.message);
  } else {
    showFormError(form, describeError(error));
  }
}

// One field of a repeated row (a time-config block, a fault rule): its id, its label and the
// error shown beside it, keyed by the field's path in the request body (`rules[1].status`), which
// is how the API names a field in error.
export function bindRowField(item, key, idPrefix, rowPath, value) {
  const input = $(`[data-key="${key}"]`, item);
  const field = $(`label[data-for="${key}"]`, item).closest(".field");
  const error = $(".field-error", field);
  const id = `${idPrefix}-${key}`;
  const path = `${rowPath}.${key}`;
  input.id = id;
  input.value = value;
  input.dataset.field = path;
  input.dataset.errorId = `${id}-error`;
  input.setAttribute("aria-describedby", `${id}-error`);
  $("label", field).htmlFor = id;
  error.id = `${id}-error`;
  error.dataset.errorFor = path;
  return input;
}

// A whole-row error (a wrong shape) has no one field to sit beside: it goes under the row.
export function appendRowError(item, rowPath) {
  const error = el("p", { class: "field-error", "data-error-for": rowPath });
  error.hidden = true;
  $("fieldset", item).append(error);
}

export function numberOrNull(text) {
  const trimmed = String(text).trim();
  if (trimmed === "") return null;
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : null;
}

/** A number as typed; text that is no number goes as typed, for the API to name the field. */
export function typedNumber(text) {
  const number = numberOrNull(text);
  return number === null ? String(text).trim() : number;
}
