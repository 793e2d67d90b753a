// The plant editor dialog: create a plant, or edit one read afresh with its ETag; a save sends
// only the changed fields with If-Match, and a 412 (or 404) opens the panel that says what
// changed meanwhile and offers to reload (CONTRACT §4).
import { ApiError, describeError } from "./api.js";
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
import {
  clearErrors,
  clearFieldError,
  numberOrNull,
  showFieldErrors,
  showFormError,
} from "./forms.js";
import { ADMIN, SessionEnded, api, apiWithHeaders } from "./session.js";
import { state } from "./state.js";
import {
  DEFAULT_BLOCKS,
  blockText,
  initTimeConfig,
  readBlocks,
  sameBlocks,
  sameNumber,
  showBlocks,
} from "./time-config.js";

// What the plant editor can change (a PATCH body's fields), as the editor labels them.
export const PLANT_FIELDS = {
  name: "Name",
  description: "Description",
  fvePeakPowerKwp: "PV peak power",
  capacityKwh: "Battery capacity",
  configEnabled: "Config enabled",
  plantWithLoad: "Plant with load",
  esiState: "ESI state",
  simulation: "Simulation",
  latitude: "Latitude",
  longitude: "Longitude",
  annualLoadKwh: "Annual load",
  roundTripEfficiency: "Round-trip efficiency",
  initialSoc: "Initial state of charge",
  timeConfigs: "Time config",
};
// The simulated site's numbers (CONTRACT §12), with the defaults a new plant starts from.
const SITE_DEFAULTS = {
  latitude: 50.08,
  longitude: 14.42,
  annualLoadKwh: 4000,
  roundTripEfficiency: 0.9,
  initialSoc: 50,
};
const NUMBER_FIELDS = new Set(["fvePeakPowerKwp", "capacityKwh", ...Object.keys(SITE_DEFAULTS)]);

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
  simulation: $("#plant-simulation"),
  latitude: $("#plant-latitude"),
  longitude: $("#plant-longitude"),
  annualLoadKwh: $("#plant-annual-load"),
  roundTripEfficiency: $("#plant-efficiency"),
  initialSoc: $("#plant-initial-soc"),
};

// What the editor calls when the stored plants may have changed: set by initPlantEditor.
let reloadPlants = async () => {};
let reloadOrg = async () => {};

function suggestExternalId() {
  const taken = new Set(state.plants.map((plant) => plant.externalPlantId));
  for (let n = state.plants.length + 1; ; n += 1) {
    const candidate = `PLANT-${String(n).padStart(3, "0")}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** One plant as stored now, with its ETag: {plant, etag}. */
export async function fetchPlant(id) {
  const { data, headers } = await apiWithHeaders("GET", `${ADMIN}/plants/${id}`);
  return { plant: data, etag: headers.get("ETag") };
}

/** Edit a plant: read afresh first, so that the editor never starts from a stale table row. */
export async function openPlantDialog(plant, opener) {
  if (plant === null) {
    fillPlantForm(null, null);
  } else {
    let fresh;
    try {
      fresh = await busy(opener, () => fetchPlant(plant.id));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        toast(`Plant “${plant.name}” was deleted meanwhile.`, "error");
        await reloadPlants();
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
    simulation: "selfConsumption",
    ...SITE_DEFAULTS,
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
  plantFields.simulation.value = source.simulation ?? "selfConsumption";
  for (const key of Object.keys(SITE_DEFAULTS)) {
    plantFields[key].value = source[key] === undefined ? "" : String(source[key]);
  }
  // Only a new plant takes an external id: PATCH cannot change it (the seed's update body).
  plantFields.externalPlantId.readOnly = !creating;
  $("#plant-external-id-hint").textContent = creating
    ? "The id Voke links to; unique per client ID."
    : "Fixed once the plant exists.";
  showBlocks(source.timeConfigs);
  // What the fields say before any edit, read back as a save would read them: a save sends
  // only the fields the user changed, whatever the form's rounding or trimming does.
  state.editingForm = readPlantForm();
  state.editingExternalId = plantFields.externalPlantId.value.trim();
}

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
    simulation: plantFields.simulation.value,
    ...Object.fromEntries(
      Object.keys(SITE_DEFAULTS).map((key) => [key, numberOrNull(plantFields[key].value)]),
    ),
    timeConfigs: readBlocks(),
  };
}

function sameValue(key, a, b) {
  if (key === "timeConfigs") return sameBlocks(a, b);
  if (NUMBER_FIELDS.has(key)) return sameNumber(a ?? null, b ?? null);
  return (a ?? null) === (b ?? null);
}

/** The editor holds input that differs from what it was opened with. */
function editorHasChanges() {
  if (!state.editingForm) return false;
  const changed = changedFields(state.editingForm, readPlantForm()).length > 0;
  if (changed || state.editing !== null) return changed;
  return plantFields.externalPlantId.value.trim() !== state.editingExternalId;
}

/** The editable fields whose values differ between two versions of a plant. */
export function changedFields(before, after) {
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
export function noticeEditedPlantChanged() {
  const opened = state.editing;
  if (!opened || !$("#plant-dialog").open || !$("#plant-conflict").hidden) return;
  const listed = state.plants.find((plant) => plant.id === opened.id) || null;
  if (listed && listed.updatedAt === opened.updatedAt) return;
  showPlantConflict(listed, changedFields(state.editingForm, readPlantForm()), {
    refused: false,
  });
}

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
  reloadPlants();
}

/**
 * The editor's fields and buttons. `reloadPlants` reads the plants table afresh (it calls
 * noticeEditedPlantChanged), `reloadOrg` every card of the org (after a save).
 */
export function initPlantEditor(callbacks) {
  ({ reloadPlants, reloadOrg } = callbacks);

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

  initTimeConfig();

  // Escape with unsaved input asks before the input is thrown away (Cancel is a deliberate click
  // and closes at once).
  $("#plant-dialog").addEventListener("cancel", (event) => {
    if (event.defaultPrevented || !editorHasChanges()) return;
    event.preventDefault();
    confirmAction({
      title: "Discard your changes?",
      body: ["The plant editor has input that is not saved. Discarding closes it without saving."],
      confirmLabel: "Discard changes",
      danger: true,
      action: async () => true,
    }).then((discard) => {
      if (discard) closeDialog($("#plant-dialog"));
      else plantFields.name.focus();
    });
  });

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
      reloadPlants();
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
        await reloadOrg();
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
}
