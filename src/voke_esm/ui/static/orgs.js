// The organization picker (and its new-org dialog), loading the picked org's data into every
// card, and the status card: enable, rotate credentials, disable (CONTRACT §10).
import { describeError } from "./api.js";
import { showCredentials, showOriginWarning } from "./credentials.js";
import {
  $,
  busy,
  closeDialog,
  confirmAction,
  el,
  numberFormat,
  openDialog,
  reportError,
  timeElement,
  toast,
} from "./dom.js";
import { loadFaults } from "./faults.js";
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

/** Every card afresh for the selected org: status and plants together, then the tools. */
export async function loadOrgData() {
  const seq = ++state.loadSeq;
  const orgId = state.orgId;
  $("#status-facts").setAttribute("aria-busy", "true");
  $("#status-card").classList.add("loading");
  // Until the fresh status is in, Enable and Disable would act on (and describe) the old one.
  $("#enable-btn").disabled = true;
  $("#disable-btn").disabled = true;
  showPlantsMessage("Loading plants…", "loading");
  // The journal, the fault editor and the clock of the selected org.
  loadJournal();
  loadFaults();
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

export function initOrgs() {
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
