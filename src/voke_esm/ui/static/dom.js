// Small DOM helpers every card uses: element building and lookup, date and number formats,
// busy buttons, toasts, and the dialogs (the confirmation that runs its action in place).
import { describeError } from "./api.js";
import { SessionEnded } from "./session.js";

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

// Every time on the page is UTC and says so: the simulated clock and the time-config blocks are
// UTC (CONTRACT §5, §11), so one zone for all keeps them comparable at a glance.
const dateFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "short",
  timeZone: "UTC",
});
const clockFormatUtc = new Intl.DateTimeFormat(undefined, { timeStyle: "medium", timeZone: "UTC" });
const fullFormatUtc = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "medium",
  timeZone: "UTC",
});
/** `format(date)` gives the time with its zone: "13:05:02 UTC". */
export const clockFormat = { format: (date) => `${clockFormatUtc.format(date)} UTC` };
export const fullFormat = { format: (date) => `${fullFormatUtc.format(date)} UTC` };
export const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function timeElement(iso) {
  if (!iso) return document.createTextNode("—");
  const text = `${dateFormat.format(new Date(iso))} UTC`;
  return el("time", { datetime: iso, title: iso, text });
}

/** A table cell that turns into a labelled line of a card on narrow screens. */
export function cell(label, ...children) {
  return el("td", { "data-label": label }, el("div", { class: "cell" }, ...children));
}

/** Runs `work` with `button` showing a spinner; a second click meanwhile does nothing. */
export async function busy(button, work) {
  if (button.getAttribute("aria-busy") === "true") return undefined;
  button.setAttribute("aria-busy", "true");
  button.setAttribute("aria-disabled", "true");
  try {
    return await work();
  } finally {
    button.removeAttribute("aria-busy");
    button.removeAttribute("aria-disabled");
  }
}

/**
 * A passing message. One failure is one message: a toast with the same text as one still on
 * show replaces it instead of piling up (a load of an org's cards that all fail for one reason).
 */
export function toast(message, kind = "ok", key = null) {
  for (const shown of $$("#toasts .toast")) {
    if (shown.dataset.message === message) shown.remove();
  }
  const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" });
  close.textContent = "✕";
  const node = el(
    "div",
    { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    el("span", { text: message }),
    close,
  );
  node.dataset.message = message;
  if (key) node.dataset.key = key;
  const remove = () => node.remove();
  close.addEventListener("click", remove);
  $("#toasts").append(node);
  setTimeout(remove, kind === "error" ? 12000 : 5000);
}

/**
 * Errors about what was on show go when it changes: all of them when another org is picked,
 * those of one action (`key`) when that action works the next time.
 */
export function dismissErrors(key = null) {
  for (const shown of $$("#toasts .toast.error")) {
    if (key === null || shown.dataset.key === key) shown.remove();
  }
}

/** A failure as a toast; `key` names the action, so that its success can take it away. */
export function reportError(error, key = null) {
  if (error instanceof SessionEnded) return;
  toast(describeError(error), "error", key);
}

// Dialogs -----------------------------------------------------------------------------------

export function openDialog(dialog) {
  dialog.returnFocusTo = document.activeElement;
  dialog.showModal();
}

export function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

/** A request started from the dialog is still running: closing it now would lose its answer. */
function dialogBusy(dialog) {
  return $('[aria-busy="true"]', dialog) !== null;
}

/** Every dialog of the page: focus goes back where it was, and none closes mid-request. */
export function initDialogs() {
  for (const dialog of $$("dialog")) {
    dialog.addEventListener("close", () => {
      const target = dialog.returnFocusTo;
      if (target && target.isConnected && typeof target.focus === "function") target.focus();
    });
    dialog.addEventListener("cancel", (event) => {
      if (dialogBusy(dialog)) event.preventDefault();
    });
    for (const button of $$("[data-close]", dialog)) {
      button.addEventListener("click", () => {
        if (!dialogBusy(dialog)) closeDialog(dialog);
      });
    }
  }
}

/** Asks first; on yes runs `action` inside the dialog, so its error shows beside the question. */
export function confirmAction({ title, body, confirmLabel, danger = false, action }) {
  const dialog = $("#confirm-dialog");
  const form = $("#confirm-form");
  const ok = $("#confirm-ok");
  const error = $("#confirm-error");
  $("#confirm-title").textContent = title;
  $("#confirm-body").replaceChildren(...body.map((text) => el("p", { text })));
  ok.textContent = confirmLabel;
  ok.className = `btn ${danger ? "danger" : "primary"}`;
  error.hidden = true;

  return new Promise((resolve) => {
    let result;
    const onSubmit = (event) => {
      event.preventDefault();
      busy(ok, async () => {
        error.hidden = true;
        try {
          result = await action();
          closeDialog(dialog);
        } catch (failure) {
          if (failure instanceof SessionEnded) return;
          error.textContent = describeError(failure);
          error.hidden = false;
        }
      });
    };
    const onClose = () => {
      // Chromium fires `close` at the next animation frame, so the one of the question before
      // can arrive after this one opened: only a close that left the dialog closed ends it.
      if (dialog.open) return;
      dialog.removeEventListener("close", onClose);
      form.removeEventListener("submit", onSubmit);
      resolve(result);
    };
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("close", onClose);
    openDialog(dialog);
    $("[data-close]", dialog).focus();
  });
}
