// The conditions of the plant on show in the day card (CONTRACT §12): cloud, gridOutage,
// commsLoss and batteryFault on the simulated timeline, listed, added, removed and saved as one
// list (PUT conditions), or cleared (DELETE). Times are typed and shown in UTC.
import { $, busy, confirmAction, toast } from "./dom.js";
import {
  appendRowError,
  bindRowField,
  clearErrors,
  clearFieldError,
  showSubmitError,
  typedNumber,
} from "./forms.js";
import { ADMIN, api } from "./session.js";
import { state } from "./state.js";

const CONDITION_KEYS = ["kind", "from", "to", "factor"];
const DEFAULT_FACTOR = "0.3";
const HOUR_MS = 60 * 60 * 1000;

const form = $("#conditions-form");
let plant = null; // the plant whose conditions the editor holds
let rows = []; // the editor's rows, as the inputs hold them (strings)
let dirty = false; // the rows differ from what was loaded or saved
let simulatedNow = null; // where a new condition starts: the day card's simulated time
// What the card calls once the stored conditions changed (the day is drawn afresh).
let onChanged = async () => {};

/** An ISO 8601 instant as a datetime-local input holds it, in UTC ("2030-01-02T03:04"). */
function toInput(iso) {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return String(iso ?? "");
  const text = new Date(time).toISOString();
  return text.slice(17, 23) === "00.000" ? text.slice(0, 16) : text.slice(0, 19);
}

/** The input's text read as UTC; text that is no time goes as typed, for the API to name. */
function toInstant(text) {
  const value = text.trim();
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(value)) return `${value}:00Z`;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(value)) return `${value}Z`;
  return value;
}

function rowOf(condition) {
  return {
    kind: condition.kind,
    from: toInput(condition.from),
    to: toInput(condition.to),
    factor: condition.factor == null ? "" : String(condition.factor),
  };
}

function conditionOf(row) {
  const condition = { kind: row.kind, from: toInstant(row.from), to: toInstant(row.to) };
  if (row.kind === "cloud" && row.factor.trim() !== "") condition.factor = typedNumber(row.factor);
  return condition;
}

/** The simulated time of the day on show: a new condition starts at its hour. */
export function noteSimulatedNow(iso) {
  simulatedNow = iso;
}

/** The editor filled with `forPlant`'s stored conditions, unless it holds unsaved rows of it. */
export async function loadConditions(forPlant) {
  form.hidden = !state.conditions;
  if (!state.conditions) return;
  if (plant && plant.id === forPlant.id && dirty) return;
  const switched = !plant || plant.id !== forPlant.id;
  plant = forPlant;
  $("legend", form).textContent = `Conditions of ${forPlant.name}`;
  if (switched) {
    rows = [];
    dirty = false;
    clearErrors(form);
    render();
  }
  try {
    const stored = await api("GET", `${ADMIN}/plants/${forPlant.id}/conditions`);
    if (plant !== forPlant || dirty) return; // another plant, or the user typed meanwhile
    rows = stored.conditions.map(rowOf);
    render();
  } catch (error) {
    if (plant === forPlant) showSubmitError(form, error);
  }
}

function render(focus) {
  const list = $("#condition-list");
  const template = $("#condition-template");
  list.replaceChildren(
    ...rows.map((row, index) => {
      const item = template.content.firstElementChild.cloneNode(true);
      const number = index + 1;
      $("[data-role=number]", item).textContent = String(number);
      for (const key of CONDITION_KEYS) {
        const path = `conditions[${index}]`;
        const input = bindRowField(item, key, `condition-${index}`, path, row[key]);
        input.addEventListener("input", () => {
          rows[index][key] = input.value;
          dirty = true;
          clearFieldError(input);
          if (key === "kind") showFactor(item, input.value);
        });
      }
      showFactor(item, row.kind);
      appendRowError(item, `conditions[${index}]`);
      const remove = $('[data-action="remove"]', item);
      const label = `Remove condition ${number}`;
      remove.setAttribute("aria-label", label);
      remove.title = label;
      remove.addEventListener("click", () => {
        rows.splice(index, 1);
        dirty = true;
        clearErrors(form); // errors point at positions that just moved
        render(`#condition-${Math.min(index, rows.length - 1)}-kind`); // none left: Add
      });
      return item;
    }),
  );
  $("#no-conditions").hidden = rows.length > 0;
  if (focus) ($(focus, list) || $("#add-condition")).focus();
}

function showFactor(item, kind) {
  $('[data-kind="cloud"]', item).hidden = kind !== "cloud";
}

function newRow() {
  const parsed = simulatedNow ? Date.parse(simulatedNow) : Number.NaN;
  const start = Number.isNaN(parsed) ? Date.now() : parsed;
  const from = Math.floor(start / HOUR_MS) * HOUR_MS;
  return {
    kind: "cloud",
    from: toInput(new Date(from).toISOString()),
    to: toInput(new Date(from + 2 * HOUR_MS).toISOString()),
    factor: DEFAULT_FACTOR,
  };
}

/** The editor's buttons; `onChanged` draws the day afresh once the stored conditions changed. */
export function initConditions(callbacks) {
  ({ onChanged } = callbacks);

  $("#add-condition").addEventListener("click", () => {
    rows.push(newRow());
    dirty = true;
    render(`#condition-${rows.length - 1}-kind`);
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const target = plant;
    if (!target) return;
    busy($("#save-conditions"), async () => {
      clearErrors(form);
      const body = { conditions: rows.map(conditionOf) };
      try {
        const saved = await api("PUT", `${ADMIN}/plants/${target.id}/conditions`, { body });
        if (plant !== target) return;
        rows = saved.conditions.map(rowOf);
        dirty = false;
        render();
        const count = rows.length === 1 ? "1 condition" : `${rows.length} conditions`;
        toast(`Conditions of ${target.name} saved (${count}).`);
        await onChanged();
      } catch (error) {
        showSubmitError(form, error);
      }
    });
  });

  $("#clear-conditions").addEventListener("click", async () => {
    const target = plant;
    if (!target) return;
    const done = await confirmAction({
      title: `Clear the conditions of ${target.name}?`,
      body: ["Every condition of this plant is deleted: it runs as designed again."],
      confirmLabel: "Clear conditions",
      danger: true,
      action: async () => {
        await api("DELETE", `${ADMIN}/plants/${target.id}/conditions`);
        return true;
      },
    });
    if (!done || plant !== target) return;
    rows = [];
    dirty = false;
    clearErrors(form);
    render();
    toast(`Conditions of ${target.name} cleared.`);
    await onChanged();
  });
}
