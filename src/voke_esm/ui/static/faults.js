// The faults card (CONTRACT §11): the org's fault rules and token lifetime, edited as rows of
// strings and saved whole; errors show beside their fields.
import { $, $$, busy, reportError, toast } from "./dom.js";
import {
  appendRowError,
  bindRowField,
  clearErrors,
  clearFieldError,
  showSubmitError,
  typedNumber,
} from "./forms.js";
import { ADMIN, api } from "./session.js";
import { currentOrg, state } from "./state.js";

const RULE_KEYS = ["endpoint", "kind", "status", "latencyMs", "jitterMs", "probability", "count"];
// Which fields a rule of each kind uses; the others are not sent.
const RULE_KIND_KEYS = { error: ["status"], latency: ["latencyMs", "jitterMs"], drop: [] };

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

export async function loadFaults({ quiet = false } = {}) {
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

export function initFaults() {
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
        showSubmitError(faultsForm, error);
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
}
