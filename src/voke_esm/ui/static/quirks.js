// The quirks card (CONTRACT §14), beside the fault rules: named misbehaviours of the org's
// trading API, one checkbox each, stored as soon as one is toggled. Each makes one check of
// `voke-esm conformance` fail, so that a tester can see their own client meet that mistake.
import { $, $$, el, reportError, toast } from "./dom.js";
import { ADMIN, api } from "./session.js";
import { currentOrg, state } from "./state.js";

const list = $("#quirk-list");

function chosen() {
  return $$("input[data-quirk]", list)
    .filter((input) => input.checked)
    .map((input) => input.dataset.quirk);
}

function showBadge(count) {
  const badge = $("#quirks-badge");
  badge.textContent = count ? `${count} on` : "None";
  badge.className = `badge ${count ? "warn" : "off"}`;
}

function showQuirks(document) {
  const on = new Set(document.quirks);
  list.replaceChildren(
    ...document.available.map((quirk) =>
      el(
        "label",
        { class: "check" },
        el("input", {
          type: "checkbox",
          "data-quirk": quirk.name,
          "data-needs-enabled": true,
          checked: on.has(quirk.name),
          onchange: save,
        }),
        el(
          "span",
          {},
          quirk.description,
          " ",
          el("span", { class: "muted", text: `(${quirk.name}; fails ${quirk.check})` }),
        ),
      ),
    ),
  );
  // The tools' gate (orgs.js) ran before these checkboxes existed: follow what it decided.
  const enabled = Boolean(state.status && state.status.enabled);
  for (const input of $$("input[data-quirk]", list)) input.disabled = !enabled;
  showBadge(on.size);
}

export async function loadQuirks() {
  const orgId = state.orgId;
  if (!orgId) return;
  try {
    const document = await api("GET", `${ADMIN}/quirks`, { query: { orgId } });
    if (orgId === state.orgId) showQuirks(document);
  } catch (error) {
    if (orgId === state.orgId) reportError(error, "quirks");
  }
}

async function save() {
  const org = currentOrg();
  if (!org) return;
  try {
    const body = { quirks: chosen() };
    const saved = await api("PUT", `${ADMIN}/quirks`, { query: { orgId: org.id }, body });
    if (org.id !== state.orgId) return;
    showQuirks(saved);
    toast(
      saved.quirks.length
        ? `Quirks of ${org.name} saved: ${saved.quirks.join(", ")}.`
        : `${org.name} keeps the contract again: no quirk is on.`,
    );
  } catch (error) {
    reportError(error, "quirks");
    loadQuirks(); // the checkboxes show what is stored, not what failed to be
  }
}
