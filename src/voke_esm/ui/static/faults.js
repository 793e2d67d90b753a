// The faults card (CONTRACT §11): the org's fault rules and token lifetime, edited as rows of
// strings and saved whole; errors show beside their fields.
import { $, $$, busy, confirmAction, dismissErrors, reportError, toast } from "./dom.js";
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

/**
 * A rule as the editor's row: its fields as strings, the stored rule it came from (`origin`, its
 * index in the rules as last loaded; null for a new row) and whether its count was typed in.
 */
function ruleToRow(rule, origin = null) {
  const row = Object.fromEntries(RULE_KEYS.map((key) => [key, String(rule[key] ?? "")]));
  return { ...row, origin, countTouched: false };
}

/** The editor holds changes not saved yet: the marker says so, leaving asks first. */
function setDirty(dirty) {
  state.faultsDirty = dirty;
  $("#faults-unsaved").hidden = !dirty;
}

/** Leaving the org (or the page) with unsaved fault rules: true when the user agrees to. */
export async function confirmDiscardFaults() {
  if (!state.faultsDirty) return true;
  const org = currentOrg();
  const discard = await confirmAction({
    title: "Discard the unsaved fault rules?",
    body: [
      `The fault rules of ${org ? org.name : "this organization"} have changes that are not ` +
        "saved. Leaving now discards them; Cancel keeps them so that you can save them.",
    ],
    confirmLabel: "Discard changes",
    danger: true,
    action: async () => true,
  });
  if (discard) setDirty(false);
  return Boolean(discard);
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
  setDirty(false);
  state.rules = faults.rules.map((rule, index) => ruleToRow(rule, index));
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
    if (orgId !== state.orgId) return;
    dismissErrors("faults");
    if (quiet && state.faultsDirty) {
      followCounts(faults);
      return;
    }
    // Counts go down as rules fire; redraw only then, so that nothing under the cursor moves.
    if (!quiet || JSON.stringify(faults) !== JSON.stringify(state.faults)) showFaults(faults);
  } catch (error) {
    if (orgId === state.orgId && !quiet) reportError(error, "faults");
  }
}

/**
 * Rules fire while the user edits: each row still standing for its stored rule, whose count
 * the user has not typed over, takes the count the service has now. The rest of the edit stays.
 */
function followCounts(faults) {
  state.rules.forEach((row, index) => {
    const stored = row.origin === null ? null : faults.rules[row.origin];
    if (!stored || row.countTouched) return;
    if (stored.endpoint !== row.endpoint || stored.kind !== row.kind) return;
    const count = String(stored.count ?? "");
    if (count === row.count) return;
    row.count = count;
    const input = document.getElementById(`rule-${index}-count`);
    if (input) input.value = count;
  });
}

function showRuleKind(item, kind) {
  for (const field of $$("[data-kind]", item)) field.hidden = field.dataset.kind !== kind;
}

function renderRules(focus) {
  const list = $("#rule-list");
  const template = $("#rule-template");
  const count = state.rules.length;
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
          if (key === "count") state.rules[index].countTouched = true;
          setDirty(true);
          clearFieldError(input);
          if (key === "kind") showRuleKind(item, input.value);
        });
      }
      showRuleKind(item, row.kind);
      appendRowError(item, `rules[${index}]`);
      // Rules apply in order (CONTRACT §11): moving one changes which fires first.
      const buttons = {
        up: [index === 0, `Move rule ${number} up`],
        down: [index === count - 1, `Move rule ${number} down`],
        remove: [false, `Remove rule ${number}`],
      };
      for (const [action, [disabled, label]] of Object.entries(buttons)) {
        const button = $(`[data-action="${action}"]`, item);
        button.disabled = disabled;
        button.setAttribute("aria-label", label);
        button.title = label;
        button.addEventListener("click", () => changeRules(action, index));
      }
      return item;
    }),
  );
  $("#no-rules").hidden = state.rules.length > 0;
  if (focus) ($(focus, faultsForm) || $("#add-rule")).focus();
}

function changeRules(action, index) {
  const rules = state.rules;
  let focus = "#add-rule";
  if (action === "up" || action === "down") {
    const to = action === "up" ? index - 1 : index + 1;
    [rules[index], rules[to]] = [rules[to], rules[index]];
    const edge = to === 0 || to === rules.length - 1;
    const other = action === "up" ? "down" : "up";
    focus = `.rule:nth-child(${to + 1}) [data-action="${edge ? other : action}"]`;
  } else {
    rules.splice(index, 1);
  }
  setDirty(true);
  clearErrors(faultsForm); // errors point at positions that just moved
  renderRules(focus);
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
    setDirty(true);
    clearErrors(faultsForm);
    renderRules(`#rule-${state.rules.length - 1}-endpoint`);
  });

  $("#faults-ttl").addEventListener("input", (event) => {
    setDirty(true);
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
        dismissErrors();
        toast("Faults saved; they apply to the next trading call.");
      } catch (error) {
        showSubmitError(faultsForm, error);
      }
    });
  });

  $("#faults-clear").addEventListener("click", async () => {
    const org = currentOrg();
    if (!org) return;
    const done = await confirmAction({
      title: `Clear the faults of ${org.name}?`,
      body: [
        "Every fault rule is deleted and tokens get the default lifetime again: the next " +
          "trading calls are answered normally." +
          (state.faultsDirty ? " The unsaved changes in the editor are discarded too." : ""),
      ],
      confirmLabel: "Clear faults",
      danger: true,
      action: async () => {
        await api("DELETE", `${ADMIN}/faults`, { query: { orgId: org.id } });
        return true;
      },
    });
    if (!done) return;
    if (org.id === state.orgId) showFaults({ rules: [], tokenTtlSeconds: null });
    toast(`Faults of ${org.name} cleared.`);
  });

  // Closing or reloading the page with unsaved fault rules: the browser asks first.
  addEventListener("beforeunload", (event) => {
    if (!state.faultsDirty) return;
    event.preventDefault();
    event.returnValue = "";
  });
}
