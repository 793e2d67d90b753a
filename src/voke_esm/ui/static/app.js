// The admin page (CONTRACT §10): sign in, pick an org, enable or disable its sandbox,
// manage its plants, and use the sandbox tools of §11 (journal, faults, snapshot, reset, clock).
import { ApiError, describeError, request, requestWithHeaders, sentence } from "./api.js";

const TOKEN_KEY = "voke-esm.token";
const ORG_KEY = "voke-esm.orgId";
const ADMIN = "/api/v1/voke-esm/admin";
const TELEMETRY_PATH = "/api/v1/voke-esm/admin/plants/{id}/telemetry";
const CLOCK_PATH = "/api/v1/voke-esm/admin/clock";
const CLOCK_ADVANCE_PATH = "/api/v1/voke-esm/admin/clock/advance";
const TRADING = "/api/v1/voke-esm/trading/";
const JOURNAL_ROWS = 100;
const JOURNAL_REFRESH_MS = 5000;
const RULE_KEYS = ["endpoint", "kind", "status", "latencyMs", "jitterMs", "probability", "count"];
// Which fields a rule of each kind uses; the others are not sent.
const RULE_KIND_KEYS = { error: ["status"], latency: ["latencyMs", "jitterMs"], drop: [] };
const BLOCK_KEYS = ["from", "to", "pBatMin", "pBatMax", "socMin", "socMax"];
const NUMBER_KEYS = new Set(["pBatMin", "pBatMax", "socMin", "socMax"]);
// What the plant editor can change (a PATCH body's fields), as the editor labels them.
const PLANT_FIELDS = {
  name: "Name",
  description: "Description",
  fvePeakPowerKwp: "PV peak power",
  capacityKwh: "Battery capacity",
  configEnabled: "Config enabled",
  plantWithLoad: "Plant with load",
  esiState: "ESI state",
  timeConfigs: "Time config",
};
const CONFIG_UPDATE_PATH = "/api/v1/voke-esm/trading/plant/config/update";
const DEFAULT_BLOCKS = [
  { from: "00:00", to: "07:00", pBatMax: 10, pBatMin: -10, socMax: 95, socMin: 20 },
  { from: "07:00", to: "23:59", pBatMax: 50, pBatMin: -50, socMax: 90, socMin: 30 },
];

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null,
  orgs: [],
  orgId: null,
  status: null,
  plants: [],
  loadSeq: 0,
  telemetry: false,
  clock: false, // POST clock/advance exists on this service
  clockRead: false, // GET clock exists
  journalPaused: false,
  journalLoading: false,
  faults: null, // the org's fault setup as last loaded or saved
  faultsDirty: false, // the editor holds changes not saved yet: refreshing would lose them
  rules: [], // the fault editor's rows, as the inputs hold them (strings)
  editing: null, // the plant being edited as the API last gave it, null when creating one
  editingEtag: null, // its ETag then: every PATCH sends it as If-Match (CONTRACT §4)
  editingForm: null, // the editor's fields as they were filled in: a PATCH sends what differs
  lastConfigUpdate: null, // {orgId, key} of the newest applied config update the journal showed
  blocks: [], // the time-config editor's rows, as the inputs hold them (strings)
};

/** The API said 401: the page has already gone back to sign-in, callers just stop. */
class SessionEnded extends Error {}

async function api(method, path, options = {}) {
  try {
    return await request(method, path, { ...options, token: state.token });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut("Your session has ended. Sign in again to continue.");
      throw new SessionEnded();
    }
    throw error;
  }
}

/** api() with the answer's headers: {data, headers}. */
async function apiWithHeaders(method, path, options = {}) {
  try {
    return await requestWithHeaders(method, path, { ...options, token: state.token });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut("Your session has ended. Sign in again to continue.");
      throw new SessionEnded();
    }
    throw error;
  }
}

// Small helpers -------------------------------------------------------------------------------

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

function el(tag, attributes = {}, ...children) {
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

function timeElement(iso) {
  if (!iso) return document.createTextNode("—");
  return el("time", { datetime: iso, title: iso, text: dateFormat.format(new Date(iso)) });
}

/** Runs `work` with `button` showing a spinner; a second click meanwhile does nothing. */
async function busy(button, work) {
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

function toast(message, kind = "ok") {
  const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" });
  close.textContent = "✕";
  const node = el(
    "div",
    { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    el("span", { text: message }),
    close,
  );
  const remove = () => node.remove();
  close.addEventListener("click", remove);
  $("#toasts").append(node);
  setTimeout(remove, kind === "error" ? 12000 : 5000);
}

function reportError(error) {
  if (error instanceof SessionEnded) return;
  toast(describeError(error), "error");
}

function currentOrg() {
  return state.orgs.find((org) => org.id === state.orgId) || null;
}

// Dialogs -----------------------------------------------------------------------------------

function openDialog(dialog) {
  dialog.returnFocusTo = document.activeElement;
  dialog.showModal();
}

function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

/** A request started from the dialog is still running: closing it now would lose its answer. */
function dialogBusy(dialog) {
  return $('[aria-busy="true"]', dialog) !== null;
}

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

/** Asks first; on yes runs `action` inside the dialog, so its error shows beside the question. */
function confirmAction({ title, body, confirmLabel, danger = false, action }) {
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
      form.removeEventListener("submit", onSubmit);
      resolve(result);
    };
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("close", onClose, { once: true });
    openDialog(dialog);
    $("[data-close]", dialog).focus();
  });
}

// Field errors from a 400's details.errors ------------------------------------------------------

function clearErrors(form) {
  for (const node of $$(".field-error", form)) {
    node.hidden = true;
    node.textContent = "";
  }
  for (const input of $$("[aria-invalid]", form)) input.removeAttribute("aria-invalid");
  const summary = $(".form-error", form);
  if (summary) summary.hidden = true;
}

function clearFieldError(input) {
  input.removeAttribute("aria-invalid");
  const id = input.dataset.errorId;
  const node = id && document.getElementById(id);
  if (node) node.hidden = true;
}

function showFormError(form, message) {
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
function showFieldErrors(form, errors, fallbackMessage) {
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

// Signing in and out --------------------------------------------------------------------------

function showView(name) {
  $("#boot").hidden = true;
  $("#signin-view").hidden = name !== "signin";
  $("#admin-view").hidden = name !== "admin";
  $("#session").hidden = name !== "admin";
}

function showSignIn(message) {
  showView("signin");
  const error = $("#signin-error");
  error.textContent = message || "";
  error.hidden = !message;
  $("#signin-password").value = "";
  $(state.me ? "#signin-password" : "#signin-email").focus();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.loadSeq += 1; // answers still on their way are for the old session
  for (const dialog of $$("dialog")) closeDialog(dialog);
  showSignIn(message);
}

$("#sign-out").addEventListener("click", () => {
  signOut();
  toast("You are signed out.");
});

$("#signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const email = $("#signin-email").value.trim();
  const password = $("#signin-password").value;
  const error = $("#signin-error");
  if (!email || !password) {
    error.textContent = "Enter your email and password.";
    error.hidden = false;
    $(email ? "#signin-password" : "#signin-email").focus();
    return;
  }
  busy($("button[type=submit]", form), async () => {
    error.hidden = true;
    try {
      const issued = await request("POST", "/api/v1/auth/login", { body: { email, password } });
      const me = await request("GET", "/api/v1/auth/me", { token: issued.accessToken });
      if (me.role !== "SUPER_ADMIN") {
        throw new Error(`${me.email} is not a SuperAdmin; this page needs a SuperAdmin account.`);
      }
      state.token = issued.accessToken;
      state.me = me;
      sessionStorage.setItem(TOKEN_KEY, issued.accessToken);
      $("#signin-password").value = "";
      await showAdmin();
    } catch (failure) {
      error.textContent =
        failure instanceof ApiError && failure.code === "UNAUTHORIZED"
          ? sentence(failure.message)
          : failure instanceof ApiError || failure.name === "NetworkError"
            ? describeError(failure)
            : failure.message;
      error.hidden = false;
      $("#signin-password").focus();
    }
  });
});

async function showAdmin() {
  $("#session-email").textContent = state.me.email;
  showView("admin");
  await loadOrgs(sessionStorage.getItem(ORG_KEY));
}

// Organizations -------------------------------------------------------------------------------

async function loadOrgs(preferredId) {
  const select = $("#org-select");
  select.disabled = true;
  select.replaceChildren(el("option", { text: "Loading organizations…" }));
  let orgs;
  try {
    orgs = await api("GET", "/api/v1/orgs");
  } catch (error) {
    select.replaceChildren(el("option", { text: "Could not load organizations" }));
    reportError(error);
    return;
  }
  state.orgs = [...orgs].sort((a, b) => a.name.localeCompare(b.name));
  select.replaceChildren(
    ...state.orgs.map((org) => el("option", { value: org.id, text: org.name })),
  );
  const empty = state.orgs.length === 0;
  $("#no-orgs").hidden = !empty;
  for (const card of ["#status-card", "#plants-card", "#journal-card", "#faults-card"]) {
    $(card).hidden = empty;
  }
  $("#sandbox-card").hidden = empty;
  if (empty) {
    select.replaceChildren(el("option", { text: "No organizations yet" }));
    state.orgId = null;
    return;
  }
  select.disabled = false;
  const known = state.orgs.some((org) => org.id === preferredId);
  await selectOrg(known ? preferredId : state.orgs[0].id);
}

async function selectOrg(orgId) {
  state.orgId = orgId;
  sessionStorage.setItem(ORG_KEY, orgId);
  $("#org-select").value = orgId;
  await loadOrgData();
}

$("#org-select").addEventListener("change", (event) => selectOrg(event.target.value));

$("#new-org").addEventListener("click", () => {
  const form = $("#org-form");
  form.reset();
  clearErrors(form);
  openDialog($("#org-dialog"));
  $("#org-name").focus();
});

$("#org-name").addEventListener("input", (event) => clearFieldError(event.target));

$("#org-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  busy($("button[type=submit]", form), async () => {
    clearErrors(form);
    const name = $("#org-name").value.trim();
    if (!name) {
      showFieldErrors(form, [{ field: "name", message: "Enter a name" }]);
      return;
    }
    try {
      const org = await api("POST", "/api/v1/orgs", { body: { name } });
      closeDialog($("#org-dialog"));
      toast(`Organization “${org.name}” created.`);
      await loadOrgs(org.id);
      $("#org-select").focus();
    } catch (error) {
      if (error instanceof SessionEnded) return;
      if (error instanceof ApiError && error.fieldErrors.length) {
        showFieldErrors(form, error.fieldErrors, error.message);
      } else {
        showFormError(form, describeError(error));
      }
    }
  });
});

// Status ------------------------------------------------------------------------------------

async function loadOrgData() {
  const seq = ++state.loadSeq;
  const orgId = state.orgId;
  $("#status-facts").setAttribute("aria-busy", "true");
  $("#status-card").classList.add("loading");
  // Until the fresh status is in, Enable and Disable would act on (and describe) the old one.
  $("#enable-btn").disabled = true;
  $("#disable-btn").disabled = true;
  showPlantsMessage("Loading plants…", "loading");
  loadTools();
  const [status, plants] = await Promise.allSettled([
    api("GET", `${ADMIN}/status`, { query: { orgId } }),
    api("GET", `${ADMIN}/plants`, { query: { orgId } }),
  ]);
  if (seq !== state.loadSeq) return; // another org was picked meanwhile
  $("#status-facts").setAttribute("aria-busy", "false");
  $("#status-card").classList.remove("loading");
  if (status.status === "fulfilled") {
    state.status = status.value;
    renderStatus();
  } else {
    state.status = null;
    renderStatus();
    reportError(status.reason);
  }
  if (plants.status === "fulfilled") {
    state.plants = plants.value;
    renderPlants();
  } else if (!(plants.reason instanceof SessionEnded)) {
    showPlantsMessage(describeError(plants.reason), "error");
  }
}

function renderStatus() {
  const status = state.status;
  const enabled = Boolean(status && status.enabled);
  const badge = $("#status-badge");
  badge.textContent = !status ? "Unknown" : enabled ? "Enabled" : "Disabled";
  badge.className = `badge ${enabled ? "on" : "off"}`;
  $("#status-client-id").textContent = (status && status.clientId) || "—";
  $("#status-url").textContent = (status && status.esmApiUrl) || "—";
  showOriginWarning($("#status-url-warning"), status && status.esmApiUrl);
  $("#status-plants").textContent = status ? numberFormat.format(status.plantCount) : "—";
  $("#status-since").replaceChildren(timeElement(status && status.enabledAt));

  const enable = $("#enable-btn");
  enable.textContent = enabled ? "Rotate credentials" : "Enable";
  enable.className = enabled ? "btn" : "btn primary"; // rotating is not the usual next step
  enable.disabled = !status;
  $("#disable-btn").disabled = !enabled;
  $("#new-plant").disabled = !enabled;
  const hint = $("#plants-hint");
  hint.hidden = enabled || !status;
  hint.textContent =
    "Voke ESM is disabled for this organization. Its plants are kept and can be edited; " +
    "enable it to add plants (a new plant needs the org's current client ID).";
}

$("#enable-btn").addEventListener("click", async () => {
  const org = currentOrg();
  if (!org || !state.status) return;
  const rotating = state.status.enabled;
  const orgId = org.id;
  const credentials = await confirmAction({
    title: rotating ? `Rotate credentials for ${org.name}?` : `Enable Voke ESM for ${org.name}?`,
    body: rotating
      ? [
          "Voke ESM is already enabled, so this issues a new client ID and client secret.",
          `The current client ID ${state.status.clientId}, its secret and every token issued ` +
            "for them stop working at once. The org's plants move to the new client ID.",
        ]
      : [
          "This creates OAuth2 client credentials for the organization and writes them, " +
            "encrypted, into its trading partner config. A default plant is created if it " +
            "has none.",
          "The client secret is shown once, on the next screen.",
        ],
    confirmLabel: rotating ? "Rotate credentials" : "Enable",
    danger: rotating,
    action: () => api("POST", `${ADMIN}/enable`, { query: { orgId } }),
  });
  if (!credentials) return;
  showCredentials(org, credentials);
  loadOrgData();
});

$("#disable-btn").addEventListener("click", async () => {
  const org = currentOrg();
  if (!org || !state.status || !state.status.enabled) return;
  const orgId = org.id;
  const count = state.status.plantCount;
  const done = await confirmAction({
    title: `Disable Voke ESM for ${org.name}?`,
    body: [
      `The client ID ${state.status.clientId} and its secret stop working at once, and so ` +
        "does every trading token issued for them: Voke's trading calls for this org fail " +
        "until it is enabled again.",
      `The org's ${count === 1 ? "plant is" : `${count} plants are`} kept. Enabling again ` +
        "issues new credentials and binds the kept plants to the new client ID.",
    ],
    confirmLabel: "Disable",
    danger: true,
    action: () => api("POST", `${ADMIN}/disable`, { query: { orgId } }),
  });
  if (!done) return;
  toast(`Voke ESM disabled for ${org.name}; its credentials are revoked.`);
  await loadOrgData();
  $("#enable-btn").focus();
});

// §1: Voke sends the org's credentials to esmApiUrl. Another origin than this page's may be
// another service (another sandbox on a neighbouring port, say): worth a look before Voke syncs.
function showOriginWarning(element, esmApiUrl) {
  let origin = null;
  try {
    origin = esmApiUrl ? new URL(esmApiUrl).origin : null;
  } catch {
    origin = null;
  }
  element.hidden = !origin || origin === location.origin;
  element.textContent = element.hidden
    ? ""
    : `Voke will call ${esmApiUrl}, but this page is served from ${location.origin}: ` +
      "if that is not this service, Voke will send it this org's credentials. " +
      "Set VOKE_ESM_INTERNAL_URL to this service's address if it is wrong.";
}

// Credentials, shown once ---------------------------------------------------------------------

function showCredentials(org, credentials) {
  const dialog = $("#credentials-dialog");
  $("#credentials-title").textContent = `Credentials for ${org.name}`;
  $("#cred-client-id").value = credentials.clientId;
  $("#cred-client-secret").value = credentials.clientSecret;
  $("#cred-esm-url").value = credentials.esmApiUrl;
  showOriginWarning($("#cred-url-warning"), credentials.esmApiUrl);
  for (const button of $$("[data-copy]", dialog)) button.textContent = "Copy";
  openDialog(dialog);
  $("[data-copy]", dialog).focus();
}

// Closing by accident (Escape) would lose the secret for good: only the button closes it.
$("#credentials-dialog").addEventListener("cancel", (event) => event.preventDefault());
$("#credentials-dialog").addEventListener("close", () => {
  for (const input of $$("input", $("#credentials-dialog"))) input.value = "";
});

for (const button of $$("[data-copy]")) {
  button.addEventListener("click", async () => {
    const input = document.getElementById(button.dataset.copy);
    let copied = false;
    try {
      await navigator.clipboard.writeText(input.value);
      copied = true;
    } catch {
      input.select();
      try {
        copied = document.execCommand("copy");
      } catch {
        copied = false;
      }
    }
    if (!copied) {
      input.focus();
      input.select();
    }
    button.textContent = copied ? "Copied" : "Press Ctrl+C";
    setTimeout(() => {
      button.textContent = "Copy";
    }, 2500);
  });
}

// Plants --------------------------------------------------------------------------------------

function showPlantsMessage(message, kind) {
  const cell = el("td", { colspan: "7", class: `table-message ${kind}` });
  if (kind === "error") {
    cell.append(
      el("span", { text: message }),
      " ",
      el("button", { type: "button", class: "btn small", text: "Retry", onclick: loadOrgData }),
    );
  } else {
    cell.textContent = message;
  }
  $("#plants-body").replaceChildren(el("tr", {}, cell));
  $("#plants-card").setAttribute("aria-busy", kind === "loading" ? "true" : "false");
}

function scheduleSummary(blocks) {
  if (!blocks.length) return [el("span", { class: "muted", text: "No blocks" })];
  const shown = blocks.slice(0, 4).map((block) =>
    el("span", { class: "sub mono nowrap", text: `${block.from}–${block.to}` }),
  );
  if (blocks.length > 4) {
    shown.push(el("span", { class: "sub", text: `+${blocks.length - 4} more` }));
  }
  const count = blocks.length === 1 ? "1 block" : `${blocks.length} blocks`;
  return [el("span", { text: count }), ...shown];
}

/** A table cell that turns into a labelled line of a card on narrow screens. */
function cell(label, ...children) {
  return el("td", { "data-label": label }, el("div", { class: "cell" }, ...children));
}

function renderPlants() {
  const body = $("#plants-body");
  // A refresh while the user is on a row's button keeps them there.
  const focused = body.contains(document.activeElement)
    ? document.activeElement.getAttribute("aria-label")
    : null;
  if (!state.plants.length) {
    showPlantsMessage("No sandbox plants for this organization.", "empty");
    return;
  }
  const rows = state.plants.map((plant) => {
    const actions = el(
      "div",
      { class: "row-actions" },
      el("button", {
        type: "button",
        class: "btn small",
        text: "Edit",
        "aria-label": `Edit ${plant.name}`,
        onclick: (event) => openPlantDialog(plant, event.currentTarget),
      }),
      state.telemetry
        ? el("button", {
            type: "button",
            class: "btn small",
            text: "Snapshot",
            title: "Take and publish a telemetry snapshot now",
            "aria-label": `Telemetry snapshot of ${plant.name}`,
            onclick: (event) => takeSnapshot(plant, event.currentTarget),
          })
        : null,
      el("button", {
        type: "button",
        class: "btn small danger-outline",
        text: "Delete",
        "aria-label": `Delete ${plant.name}`,
        onclick: (event) => deletePlant(plant, event.currentTarget),
      }),
    );
    return el(
      "tr",
      { "data-plant-id": plant.id },
      cell(
        "Plant",
        el("strong", { text: plant.name }),
        plant.description ? el("span", { class: "sub clamp", text: plant.description }) : null,
      ),
      cell("External ID", el("code", { text: plant.externalPlantId })),
      cell("Time config", ...scheduleSummary(plant.timeConfigs)),
      cell(
        "Storage",
        el("span", { class: "nowrap", text: `${numberFormat.format(plant.capacityKwh)} kWh` }),
        el("span", {
          class: "sub nowrap",
          text: `${numberFormat.format(plant.fvePeakPowerKwp)} kWp PV`,
        }),
      ),
      cell(
        "Config",
        el("span", {
          class: `pill ${plant.configEnabled ? "on" : "off"}`,
          text: plant.configEnabled ? "Enabled" : "Off",
        }),
        el("span", { class: "sub mono", text: plant.esiState }),
      ),
      cell("Updated", el("span", { class: "nowrap" }, timeElement(plant.updatedAt))),
      el("td", { class: "actions-cell" }, actions),
    );
  });
  body.replaceChildren(...rows);
  $("#plants-card").setAttribute("aria-busy", "false");
  if (focused) $(`[aria-label="${CSS.escape(focused)}"]`, body)?.focus();
}

/** The plants table afresh, e.g. after the journal showed Voke pushing a new schedule. */
async function loadPlants() {
  const seq = state.loadSeq;
  const orgId = state.orgId;
  if (!orgId) return;
  let plants;
  try {
    plants = await api("GET", `${ADMIN}/plants`, { query: { orgId } });
  } catch (error) {
    if (!(error instanceof SessionEnded)) toast(describeError(error), "error");
    return;
  }
  if (seq !== state.loadSeq || orgId !== state.orgId) return;
  state.plants = plants;
  renderPlants();
  noticeEditedPlantChanged();
}

$("#refresh-plants").addEventListener("click", (event) =>
  busy(event.currentTarget, () => loadOrgData()),
);

async function deletePlant(plant, button) {
  // The plant as stored now, and its ETag: the DELETE sends it as If-Match, so a plant that
  // changes after this question was asked is not deleted unseen (CONTRACT §4).
  let fresh;
  try {
    fresh = await busy(button, () => fetchPlant(plant.id));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      toast(`Plant “${plant.name}” was already deleted.`);
      await loadPlants();
    } else {
      reportError(error);
    }
    return;
  }
  if (!fresh) return; // a click while the first one still runs
  const changed = changedFields(plant, fresh.plant).map((key) => PLANT_FIELDS[key]);
  if (changed.length) await loadPlants();
  const { externalPlantId } = fresh.plant;
  const done = await confirmAction({
    title: `Delete plant “${fresh.plant.name}”?`,
    body: [
      changed.length
        ? `It changed since the table was loaded (${changed.join(", ")}); ` +
          "the table now shows it as stored."
        : null,
      `The sandbox plant ${externalPlantId} and its time config are deleted for good. ` +
        "A Voke plant linked to it finds nothing to sync any more.",
    ].filter(Boolean),
    confirmLabel: "Delete plant",
    danger: true,
    action: () =>
      api("DELETE", `${ADMIN}/plants/${plant.id}`, { headers: { "If-Match": fresh.etag } }),
  });
  if (!done) {
    await loadPlants(); // after a 412 the table shows what changed
    return;
  }
  toast(`Plant “${fresh.plant.name}” deleted.`);
  await loadOrgData();
  $("#new-plant").disabled ? $("#refresh-plants").focus() : $("#new-plant").focus();
}

async function takeSnapshot(plant, button) {
  await busy(button, async () => {
    try {
      const snapshot = await api("POST", `${ADMIN}/plants/${plant.id}/telemetry`);
      // §8 fixes soc and pBat in the snapshot; anything else in it is not shown here.
      const parts = [];
      if (typeof snapshot?.soc === "number") {
        parts.push(`SoC ${numberFormat.format(snapshot.soc)} %`);
      }
      if (typeof snapshot?.pBat === "number") {
        parts.push(`power ${numberFormat.format(snapshot.pBat)} kW`);
      }
      const summary = parts.length ? `: ${parts.join(", ")}` : " taken";
      toast(`Telemetry snapshot of ${plant.name}${summary}.`);
    } catch (error) {
      reportError(error);
    }
  });
}

/** Telemetry (CONTRACT §8) and the clock (§11) are offered only where this service has them. */
async function detectFeatures() {
  try {
    const schema = await request("GET", "/openapi.json");
    const paths = (schema && schema.paths) || {};
    state.telemetry = Boolean(paths[TELEMETRY_PATH]);
    state.clock = Boolean(paths[CLOCK_ADVANCE_PATH]);
    state.clockRead = Boolean(paths[CLOCK_PATH]);
  } catch {
    state.telemetry = state.clock = state.clockRead = false;
  }
  $("#clock-form").hidden = !state.clock;
}

// The plant editor ----------------------------------------------------------------------------

const plantForm = $("#plant-form");
const plantFields = {
  name: $("#plant-name"),
  externalPlantId: $("#plant-external-id"),
  clientId: $("#plant-client-id"),
  esiState: $("#plant-esi-state"),
  fvePeakPowerKwp: $("#plant-peak"),
  capacityKwh: $("#plant-capacity"),
  description: $("#plant-description"),
  configEnabled: $("input[name=configEnabled]", plantForm),
  plantWithLoad: $("input[name=plantWithLoad]", plantForm),
};

for (const input of Object.values(plantFields)) {
  const error = $(`[data-error-for="${input.dataset.field}"]`, plantForm);
  if (error) {
    error.id = `plant-${input.dataset.field}-error`;
    input.dataset.errorId = error.id;
    const described = input.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", [described, error.id].filter(Boolean).join(" "));
  }
  input.addEventListener("input", () => clearFieldError(input));
}

function blockToRow(block) {
  return Object.fromEntries(BLOCK_KEYS.map((key) => [key, String(block[key] ?? "")]));
}

/** "700" or "0700" -> "07:00", "7:30" -> "07:30"; anything else is left for the API to judge. */
function normalizeTime(text) {
  const value = text.trim();
  const match = /^(\d{1,2}):?(\d{2})$/.exec(value);
  return match ? `${match[1].padStart(2, "0")}:${match[2]}` : value;
}

function numberOrNull(text) {
  const trimmed = String(text).trim();
  if (trimmed === "") return null;
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : null;
}

function rowToBlock(row) {
  return Object.fromEntries(
    BLOCK_KEYS.map((key) => [
      key,
      NUMBER_KEYS.has(key) ? numberOrNull(row[key]) : normalizeTime(row[key]),
    ]),
  );
}

function suggestExternalId() {
  const taken = new Set(state.plants.map((plant) => plant.externalPlantId));
  for (let n = state.plants.length + 1; ; n += 1) {
    const candidate = `PLANT-${String(n).padStart(3, "0")}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** One plant as stored now, with its ETag: {plant, etag}. */
async function fetchPlant(id) {
  const { data, headers } = await apiWithHeaders("GET", `${ADMIN}/plants/${id}`);
  return { plant: data, etag: headers.get("ETag") };
}

/** Edit a plant: read afresh first, so that the editor never starts from a stale table row. */
async function openPlantDialog(plant, opener) {
  if (plant === null) {
    fillPlantForm(null, null);
  } else {
    let fresh;
    try {
      fresh = await busy(opener, () => fetchPlant(plant.id));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        toast(`Plant “${plant.name}” was deleted meanwhile.`, "error");
        await loadPlants();
      } else {
        reportError(error);
      }
      return;
    }
    if (!fresh) return; // a click while the first one still runs
    fillPlantForm(fresh.plant, fresh.etag);
  }
  const dialog = $("#plant-dialog");
  openDialog(dialog);
  if (opener) dialog.returnFocusTo = opener;
  plantFields.name.focus();
}

/** The editor filled from `plant` (null: a new plant), forgetting whatever it held. */
function fillPlantForm(plant, etag) {
  state.editing = plant;
  state.editingEtag = etag;
  clearErrors(plantForm);
  hidePlantConflict();
  const creating = plant === null;
  $("#plant-title").textContent = creating ? "New plant" : `Edit ${plant.name}`;
  $("#plant-save").textContent = creating ? "Create plant" : "Save changes";
  const source = plant || {
    name: "",
    externalPlantId: suggestExternalId(),
    clientId: state.status?.clientId || "",
    esiState: "PLC_READY",
    fvePeakPowerKwp: 0,
    capacityKwh: 0,
    description: null,
    configEnabled: true,
    plantWithLoad: true,
    timeConfigs: DEFAULT_BLOCKS,
  };
  for (const key of ["name", "externalPlantId", "clientId", "esiState"]) {
    plantFields[key].value = source[key] ?? "";
  }
  plantFields.fvePeakPowerKwp.value = String(source.fvePeakPowerKwp);
  plantFields.capacityKwh.value = String(source.capacityKwh);
  plantFields.description.value = source.description ?? "";
  plantFields.configEnabled.checked = source.configEnabled;
  plantFields.plantWithLoad.checked = source.plantWithLoad;
  // Only a new plant takes an external id: PATCH cannot change it (the seed's update body).
  plantFields.externalPlantId.readOnly = !creating;
  $("#plant-external-id-hint").textContent = creating
    ? "The id Voke links to; unique per client ID."
    : "Fixed once the plant exists.";
  state.blocks = source.timeConfigs.map(blockToRow);
  renderBlocks();
  // What the fields say before any edit, read back as a save would read them: a save sends
  // only the fields the user changed, whatever the form's rounding or trimming does.
  state.editingForm = readPlantForm();
}

$("#new-plant").addEventListener("click", () => {
  if (!state.status || !state.status.enabled) return;
  openPlantDialog(null, null);
});

// One field of a repeated row (a time-config block, a fault rule): its id, its label and the
// error shown beside it, keyed by the field's path in the request body (`rules[1].status`), which
// is how the API names a field in error.
function bindRowField(item, key, idPrefix, rowPath, value) {
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
function appendRowError(item, rowPath) {
  const error = el("p", { class: "field-error", "data-error-for": rowPath });
  error.hidden = true;
  $("fieldset", item).append(error);
}

function renderBlocks(focus) {
  const list = $("#block-list");
  const template = $("#block-template");
  const count = state.blocks.length;
  list.replaceChildren(
    ...state.blocks.map((row, index) => {
      const item = template.content.firstElementChild.cloneNode(true);
      const number = index + 1;
      $("[data-role=number]", item).textContent = String(number);
      for (const key of BLOCK_KEYS) {
        const input = bindRowField(item, key, `block-${index}`, `timeConfigs[${index}]`, row[key]);
        input.addEventListener("input", () => {
          state.blocks[index][key] = input.value;
          clearFieldError(input);
        });
        if (!NUMBER_KEYS.has(key)) {
          input.addEventListener("blur", () => {
            input.value = normalizeTime(input.value);
            state.blocks[index][key] = input.value;
          });
        }
      }
      appendRowError(item, `timeConfigs[${index}]`);
      const buttons = {
        up: [index === 0, `Move block ${number} up`],
        down: [index === count - 1, `Move block ${number} down`],
        remove: [false, `Remove block ${number}`],
      };
      for (const [action, [disabled, label]] of Object.entries(buttons)) {
        const button = $(`[data-action="${action}"]`, item);
        button.disabled = disabled;
        button.setAttribute("aria-label", label);
        button.title = label;
        button.addEventListener("click", () => changeBlocks(action, index));
      }
      return item;
    }),
  );
  $("#no-blocks").hidden = count > 0;
  if (focus) {
    const target = $(focus, list) || $("#add-block");
    target.focus();
  }
}

function changeBlocks(action, index) {
  const blocks = state.blocks;
  let focus;
  if (action === "up" || action === "down") {
    const to = action === "up" ? index - 1 : index + 1;
    [blocks[index], blocks[to]] = [blocks[to], blocks[index]];
    const edge = to === 0 || to === blocks.length - 1;
    const other = action === "up" ? "down" : "up";
    focus = `.block:nth-child(${to + 1}) [data-action="${edge ? other : action}"]`;
  } else {
    blocks.splice(index, 1);
    focus = blocks.length
      ? `.block:nth-child(${Math.min(index, blocks.length - 1) + 1}) [data-action="remove"]`
      : null;
  }
  // Server errors point at positions that just moved: they no longer apply.
  clearErrors(plantForm);
  renderBlocks(focus || "#add-block");
}

$("#add-block").addEventListener("click", () => {
  const last = state.blocks.at(-1);
  // The new block starts where the last one ends; after a block ending 23:59 there is no room.
  let from = "00:00";
  if (last) from = /^\d\d:\d\d$/.test(last.to) && last.to !== "23:59" ? last.to : "";
  state.blocks.push({
    from,
    to: "23:59",
    pBatMin: last ? last.pBatMin : "-10",
    pBatMax: last ? last.pBatMax : "10",
    socMin: last ? last.socMin : "20",
    socMax: last ? last.socMax : "90",
  });
  clearErrors(plantForm);
  renderBlocks(`#block-${state.blocks.length - 1}-from`);
});

/** The editable fields as the editor holds them, in the API's types. */
function readPlantForm() {
  return {
    name: plantFields.name.value.trim(),
    description: plantFields.description.value.trim() || null,
    fvePeakPowerKwp: numberOrNull(plantFields.fvePeakPowerKwp.value),
    capacityKwh: numberOrNull(plantFields.capacityKwh.value),
    configEnabled: plantFields.configEnabled.checked,
    plantWithLoad: plantFields.plantWithLoad.checked,
    esiState: plantFields.esiState.value.trim(),
    timeConfigs: state.blocks.map(rowToBlock),
  };
}

// Compared field by field, numbers as numbers: the API may give the keys of a block in any
// order, and 10 and 10.0 are one value (CONTRACT §4: a PATCH that changes nothing is no version).
function sameNumber(a, b) {
  return a === null || b === null ? a === b : Number(a) === Number(b);
}

function sameBlocks(a, b) {
  return (
    a.length === b.length &&
    a.every((block, index) =>
      BLOCK_KEYS.every((key) =>
        NUMBER_KEYS.has(key)
          ? sameNumber(block[key], b[index][key])
          : block[key] === b[index][key],
      ),
    )
  );
}

function sameValue(key, a, b) {
  if (key === "timeConfigs") return sameBlocks(a, b);
  if (key === "fvePeakPowerKwp" || key === "capacityKwh") return sameNumber(a, b);
  return (a ?? null) === (b ?? null);
}

/** The editable fields whose values differ between two versions of a plant. */
function changedFields(before, after) {
  return Object.keys(PLANT_FIELDS).filter((key) => !sameValue(key, before[key], after[key]));
}

function collectPlant() {
  const body = readPlantForm();
  if (state.editing === null) {
    return {
      clientId: plantFields.clientId.value,
      externalPlantId: plantFields.externalPlantId.value.trim(),
      ...body,
    };
  }
  // A PATCH carries what the user changed only: fields sent unchanged would overwrite what
  // someone else (Voke's config/update above all) stored meanwhile.
  return Object.fromEntries(
    changedFields(state.editingForm, body).map((key) => [key, body[key]]),
  );
}

// The plant changed since the editor read it: say what, and offer to start again from it.

function blockText(block) {
  const n = (value) => numberFormat.format(value);
  return (
    `${block.from}–${block.to} (${n(block.pBatMin)} to ${n(block.pBatMax)} kW, ` +
    `SoC ${n(block.socMin)}–${n(block.socMax)} %)`
  );
}

function valueText(key, value) {
  if (key === "timeConfigs") {
    return value.length ? value.map(blockText).join(", ") : "no blocks";
  }
  if (typeof value === "boolean") return value ? "on" : "off";
  if (value === null || value === "") return "empty";
  if (typeof value === "number") return numberFormat.format(value);
  const text = String(value);
  return `“${text.length > 80 ? text.slice(0, 79) + "…" : text}”`;
}

function hidePlantConflict() {
  $("#plant-conflict").hidden = true;
}

/**
 * `stored` is the plant as the service has it now (null: deleted); `pending` the fields the
 * user changed and has not saved. Nothing is merged or kept behind the user's back: reloading
 * replaces the editor's fields with the stored plant, and says that their changes go.
 */
function showPlantConflict(stored, pending, { refused }) {
  const opened = state.editing;
  const panel = $("#plant-conflict");
  const list = $("#plant-conflict-list");
  const pendingLabels = pending.map((key) => PLANT_FIELDS[key]).join(", ");
  if (stored === null) {
    $("#plant-conflict-title").textContent = refused
      ? "This plant was deleted: nothing was saved."
      : "This plant was deleted while you were editing it.";
    list.replaceChildren();
    $("#plant-conflict-yours").textContent = "";
    $("#plant-reload").hidden = true;
  } else {
    $("#plant-conflict-title").textContent = refused
      ? "This plant changed since you opened it: nothing was saved."
      : "This plant changed while you were editing it.";
    const changed = changedFields(opened, stored);
    const items = changed.map((key) =>
      el(
        "li",
        {},
        el("strong", { text: `${PLANT_FIELDS[key]}: ` }),
        `now ${valueText(key, stored[key])}; you opened ${valueText(key, opened[key])}.`,
      ),
    );
    items.push(
      el(
        "li",
        {},
        el("strong", { text: "Updated: " }),
        timeElement(stored.updatedAt),
        changed.length ? "" : " (no field you can edit differs)",
      ),
    );
    list.replaceChildren(...items);
    $("#plant-conflict-yours").textContent = pending.length
      ? "Reloading puts the stored plant in the editor and discards your changes " +
        `(${pendingLabels}); make them again, then save.`
      : "Reloading puts the stored plant in the editor.";
    $("#plant-reload").hidden = false;
  }
  panel.hidden = false;
  ($("#plant-reload").hidden ? $("[data-close]", plantForm) : $("#plant-reload")).focus();
}

/** After the table refreshed: tell an open editor that its plant changed meanwhile. */
function noticeEditedPlantChanged() {
  const opened = state.editing;
  if (!opened || !$("#plant-dialog").open || !$("#plant-conflict").hidden) return;
  const listed = state.plants.find((plant) => plant.id === opened.id) || null;
  if (listed && listed.updatedAt === opened.updatedAt) return;
  showPlantConflict(listed, changedFields(state.editingForm, readPlantForm()), {
    refused: false,
  });
}

$("#plant-reload").addEventListener("click", (event) =>
  busy(event.currentTarget, async () => {
    const opened = state.editing;
    try {
      const fresh = await fetchPlant(opened.id);
      fillPlantForm(fresh.plant, fresh.etag);
      toast("The stored plant is in the editor now.");
      plantFields.name.focus();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        showPlantConflict(null, [], { refused: false });
      } else if (!(error instanceof SessionEnded)) {
        showFormError(plantForm, describeError(error));
      }
    }
    loadPlants();
  }),
);

plantForm.addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("#plant-save"), async () => {
    clearErrors(plantForm);
    const editing = state.editing;
    const body = collectPlant();
    if (editing && Object.keys(body).length === 0) {
      // Nothing is sent: a PATCH of nothing would change nothing anyway.
      closeDialog($("#plant-dialog"));
      toast("No changes to save.");
      return;
    }
    try {
      // The ETag read when the editor opened: if the plant changed since, the service
      // refuses with 412 and changes nothing (CONTRACT §4).
      const saved = editing
        ? await api("PATCH", `${ADMIN}/plants/${editing.id}`, {
            body,
            headers: { "If-Match": state.editingEtag },
          })
        : await api("POST", `${ADMIN}/plants`, { body });
      closeDialog($("#plant-dialog"));
      toast(editing ? `Plant “${saved.name}” saved.` : `Plant “${saved.name}” created.`);
      await loadOrgData();
    } catch (error) {
      if (error instanceof SessionEnded) return;
      if (editing && error instanceof ApiError && [404, 412].includes(error.status)) {
        await showRefusedSave(editing, Object.keys(body));
        return;
      }
      if (error instanceof ApiError && error.fieldErrors.length) {
        showFieldErrors(plantForm, error.fieldErrors, error.message);
      } else if (error instanceof ApiError && error.code === "CONFLICT") {
        showFieldErrors(plantForm, [{ field: "externalPlantId", message: error.message }]);
      } else {
        showFormError(plantForm, describeError(error));
      }
    }
  });
});

/** A save the service refused because the plant changed or went: show what it is now. */
async function showRefusedSave(editing, pending) {
  try {
    const fresh = await fetchPlant(editing.id);
    showPlantConflict(fresh.plant, pending, { refused: true });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      showPlantConflict(null, pending, { refused: true });
    } else if (!(error instanceof SessionEnded)) {
      showFormError(plantForm, describeError(error));
    }
  }
  loadPlants();
}

// Sandbox tools (CONTRACT §11) -------------------------------------------------------------------

/** The journal, the fault editor and the clock of the selected org. */
function loadTools() {
  loadJournal();
  loadFaults();
  loadClock();
}

// Journal: the org's trading calls, refreshed while the page is in view.

function timeOfDay(iso) {
  const moment = new Date(iso);
  return el("time", {
    datetime: iso,
    title: fullFormat.format(moment),
    text: clockFormat.format(moment),
  });
}

function showJournalMessage(message, kind) {
  const cell = el("td", { colspan: "6", class: `table-message ${kind}`, text: message });
  $("#journal-body").replaceChildren(el("tr", {}, cell));
}

function statusPill(status) {
  if (status === 0) {
    return el("span", { class: "pill off", text: "dropped", title: "closed without an answer" });
  }
  return el("span", { class: `pill ${status < 400 ? "on" : "bad"}`, text: String(status) });
}

function dash() {
  return el("span", { class: "muted", text: "—" });
}

function renderJournal(entries) {
  if (!entries.length) {
    showJournalMessage("No trading calls recorded for this organization yet.", "empty");
    return;
  }
  const rows = entries.map((entry) => {
    const path = entry.path;
    const endpoint = path.startsWith(TRADING) ? path.slice(TRADING.length) : path;
    return el(
      "tr",
      {},
      cell("Time", timeOfDay(entry.at)),
      cell(
        "Call",
        el("span", { class: "nowrap" }, el("code", { text: entry.method }), ` ${endpoint}`),
        entry.clientId ? el("span", { class: "sub mono", text: entry.clientId }) : null,
      ),
      cell("Status", statusPill(entry.status)),
      cell("Plant", entry.plantId ? el("code", { text: entry.plantId }) : dash()),
      cell(
        "Config update",
        entry.configUpdateReqCode
          ? el("span", { class: "mono clamp", text: entry.configUpdateReqCode })
          : dash(),
        entry.resultCode ? el("span", { class: "sub mono", text: entry.resultCode }) : null,
      ),
      cell(
        "Duration",
        el("span", { class: "nowrap", text: `${numberFormat.format(entry.durationMs)} ms` }),
      ),
    );
  });
  $("#journal-body").replaceChildren(...rows);
}

/**
 * Voke pushed a schedule (the journal shows a new applied config/update): the plants table
 * shows the stored schedules, so it is read again. The first look at an org only takes note.
 */
function noticeConfigUpdates(orgId, entries) {
  const newest = entries.find(
    (entry) => entry.path === CONFIG_UPDATE_PATH && entry.resultCode === "applied_ok",
  );
  const key = newest
    ? [newest.at, newest.clientId, newest.plantId, newest.configUpdateReqCode].join(" ")
    : null;
  const seen = state.lastConfigUpdate;
  state.lastConfigUpdate = { orgId, key };
  if (seen && seen.orgId === orgId && key !== null && key !== seen.key) loadPlants();
}

async function loadJournal({ quiet = false } = {}) {
  const orgId = state.orgId;
  if (!orgId || state.journalLoading) return;
  state.journalLoading = true;
  if (!quiet) showJournalMessage("Loading the journal…", "loading");
  try {
    const query = { orgId, limit: JOURNAL_ROWS };
    const entries = await api("GET", `${ADMIN}/journal`, { query });
    if (orgId !== state.orgId) return;
    renderJournal(entries);
    noticeConfigUpdates(orgId, entries);
    $("#journal-updated").textContent = state.journalPaused
      ? "Paused"
      : `Updated ${clockFormat.format(new Date())}`;
  } catch (error) {
    if (error instanceof SessionEnded || orgId !== state.orgId) return;
    if (quiet) $("#journal-updated").textContent = `Not refreshed: ${describeError(error)}`;
    else showJournalMessage(describeError(error), "error");
  } finally {
    state.journalLoading = false;
  }
}

setInterval(() => {
  const showing = state.token && !$("#admin-view").hidden && !$("#journal-card").hidden;
  if (showing && !state.journalPaused && document.visibilityState === "visible") {
    loadJournal({ quiet: true });
    if (!state.faultsDirty) loadFaults({ quiet: true });
  }
}, JOURNAL_REFRESH_MS);

$("#journal-pause").addEventListener("click", (event) => {
  const button = event.currentTarget;
  state.journalPaused = !state.journalPaused;
  button.setAttribute("aria-pressed", String(state.journalPaused));
  button.textContent = state.journalPaused ? "Resume" : "Pause";
  $("#journal-updated").textContent = state.journalPaused ? "Paused" : "";
  if (!state.journalPaused) loadJournal({ quiet: true });
});

$("#journal-refresh").addEventListener("click", (event) =>
  busy(event.currentTarget, () => loadJournal({ quiet: true })),
);

$("#journal-clear").addEventListener("click", async () => {
  const org = currentOrg();
  if (!org) return;
  const done = await confirmAction({
    title: `Clear the journal of ${org.name}?`,
    body: [
      "Every recorded trading call of this organization is forgotten. " +
        "New calls are recorded as before.",
    ],
    confirmLabel: "Clear journal",
    danger: true,
    action: () => api("DELETE", `${ADMIN}/journal`, { query: { orgId: org.id } }),
  });
  if (!done) return;
  toast(`Journal of ${org.name} cleared.`);
  await loadJournal();
});

// Fault editor: rules and the token lifetime, errors beside their fields.

const faultsForm = $("#faults-form");

function ruleToRow(rule) {
  return Object.fromEntries(RULE_KEYS.map((key) => [key, String(rule[key] ?? "")]));
}

function renderFaultsBadge() {
  const faults = state.faults;
  const badge = $("#faults-badge");
  const parts = [];
  if (faults && faults.rules.length) {
    parts.push(faults.rules.length === 1 ? "1 rule" : `${faults.rules.length} rules`);
  }
  if (faults && faults.tokenTtlSeconds) parts.push(`tokens ${faults.tokenTtlSeconds} s`);
  badge.textContent = parts.length ? parts.join(", ") : "None";
  badge.className = `badge ${parts.length ? "warn" : "off"}`;
}

function showFaults(faults) {
  state.faults = faults;
  state.faultsDirty = false;
  state.rules = faults.rules.map(ruleToRow);
  $("#faults-ttl").value = faults.tokenTtlSeconds == null ? "" : String(faults.tokenTtlSeconds);
  clearErrors(faultsForm);
  renderRules();
  renderFaultsBadge();
}

async function loadFaults({ quiet = false } = {}) {
  const orgId = state.orgId;
  if (!orgId) return;
  try {
    const faults = await api("GET", `${ADMIN}/faults`, { query: { orgId } });
    if (orgId !== state.orgId || (quiet && state.faultsDirty)) return;
    // Counts go down as rules fire; redraw only then, so that nothing under the cursor moves.
    if (!quiet || JSON.stringify(faults) !== JSON.stringify(state.faults)) showFaults(faults);
  } catch (error) {
    if (orgId === state.orgId && !quiet) reportError(error);
  }
}

function showRuleKind(item, kind) {
  for (const field of $$("[data-kind]", item)) field.hidden = field.dataset.kind !== kind;
}

function renderRules(focus) {
  const list = $("#rule-list");
  const template = $("#rule-template");
  list.replaceChildren(
    ...state.rules.map((row, index) => {
      const item = template.content.firstElementChild.cloneNode(true);
      const number = index + 1;
      $("[data-role=number]", item).textContent = String(number);
      for (const key of RULE_KEYS) {
        const input = bindRowField(item, key, `rule-${index}`, `rules[${index}]`, row[key]);
        const event = input.tagName === "SELECT" ? "change" : "input";
        input.addEventListener(event, () => {
          state.rules[index][key] = input.value;
          state.faultsDirty = true;
          clearFieldError(input);
          if (key === "kind") showRuleKind(item, input.value);
        });
      }
      showRuleKind(item, row.kind);
      appendRowError(item, `rules[${index}]`);
      const remove = $('[data-action="remove"]', item);
      remove.setAttribute("aria-label", `Remove rule ${number}`);
      remove.title = `Remove rule ${number}`;
      remove.addEventListener("click", () => {
        state.rules.splice(index, 1);
        state.faultsDirty = true;
        clearErrors(faultsForm); // errors point at positions that just moved
        renderRules("#add-rule");
      });
      return item;
    }),
  );
  $("#no-rules").hidden = state.rules.length > 0;
  if (focus) ($(focus, faultsForm) || $("#add-rule")).focus();
}

$("#add-rule").addEventListener("click", () => {
  state.rules.push(ruleToRow({ endpoint: "*", kind: "error", status: 503 }));
  state.faultsDirty = true;
  clearErrors(faultsForm);
  renderRules(`#rule-${state.rules.length - 1}-endpoint`);
});

$("#faults-ttl").addEventListener("input", (event) => {
  state.faultsDirty = true;
  clearFieldError(event.target);
});
$("#faults-ttl").dataset.errorId = "faults-ttl-error";

/** A number as typed; text that is no number goes as typed, for the API to name the field. */
function typedNumber(text) {
  const number = numberOrNull(text);
  return number === null ? String(text).trim() : number;
}

function collectFaults() {
  const rules = state.rules.map((row) => {
    const rule = { endpoint: row.endpoint, kind: row.kind };
    for (const key of [...(RULE_KIND_KEYS[row.kind] || []), "probability", "count"]) {
      if (String(row[key]).trim() !== "") rule[key] = typedNumber(row[key]);
    }
    return rule;
  });
  const ttl = $("#faults-ttl").value.trim();
  return { rules, tokenTtlSeconds: ttl === "" ? null : typedNumber(ttl) };
}

faultsForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const orgId = state.orgId;
  busy($("#faults-save"), async () => {
    clearErrors(faultsForm);
    try {
      const body = collectFaults();
      const saved = await api("PUT", `${ADMIN}/faults`, { query: { orgId }, body });
      if (orgId !== state.orgId) return;
      showFaults(saved);
      toast("Faults saved; they apply to the next trading call.");
    } catch (error) {
      if (error instanceof SessionEnded) return;
      if (error instanceof ApiError && error.fieldErrors.length) {
        showFieldErrors(faultsForm, error.fieldErrors, error.message);
      } else {
        showFormError(faultsForm, describeError(error));
      }
    }
  });
});

$("#faults-clear").addEventListener("click", (event) => {
  const org = currentOrg();
  if (!org) return;
  busy(event.currentTarget, async () => {
    try {
      await api("DELETE", `${ADMIN}/faults`, { query: { orgId: org.id } });
      if (org.id === state.orgId) showFaults({ rules: [], tokenTtlSeconds: null });
      toast(`Faults of ${org.name} cleared.`);
    } catch (error) {
      reportError(error);
    }
  });
});

// Snapshot, restore, reset.

$("#snapshot-download").addEventListener("click", (event) => {
  const org = currentOrg();
  if (!org) return;
  busy(event.currentTarget, async () => {
    try {
      const snapshot = await api("GET", `${ADMIN}/snapshot`, { query: { orgId: org.id } });
      const text = JSON.stringify(snapshot, null, 2) + "\n";
      const blob = new Blob([text], { type: "application/json" });
      const link = el("a", {
        href: URL.createObjectURL(blob),
        download: `voke-esm-${org.slug}-snapshot.json`,
      });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (error) {
      reportError(error);
    }
  });
});

$("#snapshot-restore").addEventListener("click", () => {
  const input = $("#snapshot-file");
  input.value = "";
  input.click();
});

$("#snapshot-file").addEventListener("change", async (event) => {
  const file = event.target.files && event.target.files[0];
  const org = currentOrg();
  if (!file || !org) return;
  let snapshot;
  try {
    snapshot = JSON.parse(await file.text());
  } catch {
    toast(`${file.name} is not a JSON file; choose a downloaded snapshot.`, "error");
    return;
  }
  const count = Array.isArray(snapshot && snapshot.plants) ? snapshot.plants.length : 0;
  const done = await confirmAction({
    title: `Restore ${file.name} into ${org.name}?`,
    body: [
      `The organization's plants become exactly the ${count === 1 ? "plant" : `${count} plants`}` +
        " " +
        "of the snapshot, with their time configs and versions; plants that are not in it are " +
        "deleted. Credentials stay as they are.",
    ],
    confirmLabel: "Restore snapshot",
    danger: true,
    action: () => api("PUT", `${ADMIN}/snapshot`, { query: { orgId: org.id }, body: snapshot }),
  });
  if (!done) return;
  toast(`Snapshot restored into ${org.name}.`);
  await loadOrgData();
});

$("#reset-btn").addEventListener("click", async () => {
  const org = currentOrg();
  if (!org) return;
  const done = await confirmAction({
    title: `Reset the sandbox plants of ${org.name}?`,
    body: [
      "Every sandbox plant of this organization is deleted, with its time config, and the " +
        "default plant is created again under a new external plant ID. Voke plants linked to the " +
        "old plants find nothing to sync any more.",
      "Credentials, faults and the journal stay as they are.",
    ],
    confirmLabel: "Reset plants",
    danger: true,
    action: () => api("POST", `${ADMIN}/reset`, { query: { orgId: org.id } }),
  });
  if (!done) return;
  toast(sentence(done.message));
  await loadOrgData();
});

// The simulated clock, where this service has it.

function showClock(clock) {
  const now = clock && typeof clock.now === "string" ? clock.now : null;
  const target = $("#clock-now");
  if (!now) {
    target.replaceChildren();
    return;
  }
  const time = el("time", { datetime: now, text: fullFormat.format(new Date(now)) });
  target.replaceChildren("Simulated time: ", time);
}

async function loadClock() {
  const orgId = state.orgId;
  showClock(null);
  if (!orgId || !state.clock || !state.clockRead) return;
  try {
    const clock = await api("GET", CLOCK_PATH, { query: { orgId } });
    if (orgId === state.orgId) showClock(clock);
  } catch {
    // An org never enabled has no clock yet: nothing to show.
  }
}

$("#clock-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const org = currentOrg();
  if (!org) return;
  busy($("#clock-advance"), async () => {
    clearErrors(form);
    const minutes = typedNumber($("#clock-minutes").value);
    try {
      const query = { orgId: org.id };
      const clock = await api("POST", CLOCK_ADVANCE_PATH, { query, body: { minutes } });
      showClock(clock);
      toast(`Clock of ${org.name} advanced by ${numberFormat.format(minutes)} minutes.`);
    } catch (error) {
      if (error instanceof SessionEnded) return;
      if (error instanceof ApiError && error.fieldErrors.length) {
        showFieldErrors(form, error.fieldErrors, error.message);
      } else {
        showFormError(form, describeError(error));
      }
    }
  });
});

$("#clock-minutes").dataset.errorId = "clock-minutes-error";
$("#clock-minutes").addEventListener("input", (event) => clearFieldError(event.target));

// Start -------------------------------------------------------------------------------------

async function boot() {
  const telemetry = detectFeatures();
  if (!state.token) {
    await telemetry;
    showSignIn();
    return;
  }
  try {
    const [me] = await Promise.all([api("GET", "/api/v1/auth/me"), telemetry]);
    if (me.role !== "SUPER_ADMIN") {
      signOut(`${me.email} is not a SuperAdmin; this page needs a SuperAdmin account.`);
      return;
    }
    state.me = me;
    await showAdmin();
  } catch (error) {
    if (error instanceof SessionEnded) return;
    showSignIn(describeError(error));
  }
}

boot();
