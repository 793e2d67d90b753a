// The organization picker (and its new-org dialog), loading the picked org's data into every
// card, and the status card: enable, rotate credentials, disable (CONTRACT §10).
import { showCredentials, showOriginWarning } from "./credentials.js";
import {
  $,
  $$,
  busy,
  closeDialog,
  confirmAction,
  dismissErrors,
  el,
  numberFormat,
  openDialog,
  reportError,
  timeElement,
  toast,
} from "./dom.js";
import { confirmDiscardFaults, loadFaults } from "./faults.js";
import { loadQuirks } from "./quirks.js";
import { clearErrors, clearFieldError, showFieldErrors, showSubmitError } from "./forms.js";
import { loadJournal } from "./journal.js";
import { renderPlants, showPlantsMessage } from "./plants.js";
import { loadClock } from "./sandbox.js";
import { ADMIN, SessionEnded, api } from "./session.js";
import { currentOrg, state } from "./state.js";

const ORG_KEY = "voke-esm.orgId";

/** The org picker filled, on the org this tab showed last if it still exists. */
export async function showOrgs() {
  await loadOrgs(sessionStorage.getItem(ORG_KEY));
}

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
  $("#section-tabs").hidden = empty;
  const cards = ["#status-card", "#plants-card", "#journal-card", "#faults-card", "#quirks-card"];
  for (const card of cards) {
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
  // Another org's unsaved fault rules would be lost without a word: ask first.
  if (orgId !== state.orgId && !(await confirmDiscardFaults())) {
    $("#org-select").value = state.orgId;
    return;
  }
  state.orgId = orgId;
  sessionStorage.setItem(ORG_KEY, orgId);
  $("#org-select").value = orgId;
  await loadOrgData();
}

/** Every card afresh for the selected org: status and plants together, then the tools. */
export async function loadOrgData() {
  const seq = ++state.loadSeq;
  const orgId = state.orgId;
  // Errors were about what was on show before: they go with it.
  dismissErrors();
  state.status = null;
  gateTools();
  showTelemetryBinding();
  $("#status-facts").setAttribute("aria-busy", "true");
  $("#status-card").classList.add("loading");
  // Until the fresh status is in, Enable and Disable would act on (and describe) the old one.
  $("#enable-btn").disabled = true;
  $("#disable-btn").disabled = true;
  showPlantsMessage("Loading plants…", "loading");
  // The journal, the fault editor and the clock of the selected org.
  loadJournal();
  loadFaults();
  loadQuirks();
  loadClock();
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
    reportError(status.reason, "status");
  }
  if (plants.status === "fulfilled") {
    state.plants = plants.value;
    renderPlants();
  } else if (!(plants.reason instanceof SessionEnded)) {
    // The reason is in the page's one message for it (deduplicated with the status's).
    showPlantsMessage("The plants could not be loaded.", "error");
    reportError(plants.reason, "plants");
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
  gateTools();
  const hint = $("#plants-hint");
  hint.hidden = enabled || !status;
  hint.textContent =
    "Voke ESM is disabled for this organization. Its plants are kept and can be edited; " +
    "enable it to add plants (a new plant needs the org's current client ID).";
}

const NEEDS_ENABLED =
  "These tools act on the organization's sandbox, which exists once Voke ESM is enabled: " +
  "enable it under Status to use them.";

/**
 * The tools that need an enabled org (faults, restore, reset, the clock, telemetry readings) are
 * disabled, with the reason beside them, until the status says it is enabled; the service would
 * refuse them anyway (409 "never been enabled"), and a refusal is worse than a reason up front.
 */
function gateTools() {
  const status = state.status;
  const enabled = Boolean(status && status.enabled);
  for (const control of $$("[data-needs-enabled]")) {
    control.disabled = !enabled;
    if (enabled) control.removeAttribute("title");
    else if (status) control.title = NEEDS_ENABLED;
  }
  for (const note of $$("[data-needs-enabled-note]")) {
    note.hidden = enabled || !status;
    note.textContent = NEEDS_ENABLED;
  }
}

/** Where the telemetry readings go (CONTRACT §8): the exchange and this org's routing key. */
function showTelemetryBinding() {
  const org = currentOrg();
  const box = $("#telemetry-binding");
  box.hidden = !state.telemetry || !org;
  if (!org) return;
  $("#telemetry-slug").textContent = org.slug;
  $("#telemetry-exchange").textContent = "vcp";
  $("#telemetry-routing-key").textContent = `vcp.${org.slug}.event.telemetry`;
}

/** At phone width one section shows at a time, picked from the tabs above the cards. */
function showSection(name) {
  $("#admin-view").dataset.section = name;
  for (const tab of $$("#section-tabs [data-section]")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.section === name));
  }
}

export function initOrgs() {
  showSection("status");
  for (const tab of $$("#section-tabs [data-section]")) {
    tab.addEventListener("click", () => showSection(tab.dataset.section));
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
        showSubmitError(form, error);
      }
    });
  });

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
}
