// The plants card: the table of the org's sandbox plants and its row actions (edit, telemetry
// reading, delete with If-Match), and reading the table afresh. The editor is plant-editor.js.
import { ApiError } from "./api.js";
import {
  $,
  busy,
  cell,
  confirmAction,
  dismissErrors,
  el,
  numberFormat,
  reportError,
  timeElement,
  toast,
} from "./dom.js";
import {
  PLANT_FIELDS,
  changedFields,
  fetchPlant,
  initPlantEditor,
  noticeEditedPlantChanged,
  openPlantDialog,
} from "./plant-editor.js";
import { showPlantDay, syncDayPlants } from "./plant-day.js";
import { ADMIN, api } from "./session.js";
import { state } from "./state.js";

// Every card of the org afresh (orgs.js's loadOrgData): set by initPlants.
let reloadOrg = async () => {};

export function showPlantsMessage(message, kind) {
  const td = el("td", { colspan: "7", class: `table-message ${kind}` });
  if (kind === "error") {
    td.append(
      el("span", { text: message }),
      " ",
      el("button", {
        type: "button",
        class: "btn small",
        text: "Retry",
        onclick: () => reloadOrg(),
      }),
    );
  } else {
    td.textContent = message;
  }
  $("#plants-body").replaceChildren(el("tr", {}, td));
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

export function renderPlants() {
  const body = $("#plants-body");
  // A refresh while the user is on a row's button keeps them there.
  const focused = body.contains(document.activeElement)
    ? document.activeElement.getAttribute("aria-label")
    : null;
  const enabled = Boolean(state.status && state.status.enabled);
  syncDayPlants();
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
      state.timeseries
        ? el("button", {
            type: "button",
            class: "btn small",
            text: "Day",
            title: "Its simulated day: blocks, state of charge and powers",
            "aria-label": `Day of ${plant.name}`,
            onclick: () => showPlantDay(plant.id),
          })
        : null,
      // "Snapshot" is the sandbox state's (the card below); this is one telemetry reading.
      state.telemetry
        ? el("button", {
            type: "button",
            class: "btn small",
            text: "Telemetry reading",
            title: enabled
              ? "Take a telemetry reading now and publish it"
              : "Enable Voke ESM for this organization to take telemetry readings.",
            "aria-label": `Telemetry reading of ${plant.name}`,
            disabled: !enabled,
            "data-needs-enabled": true,
            onclick: (event) => takeReading(plant, event.currentTarget),
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
          title: plant.configEnabled
            ? enabled
              ? "Accepts schedules from Voke (configEnabled)"
              : "Accepts schedules once Voke ESM is enabled for the organization"
            : "Refuses schedules from Voke (configEnabled off)",
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
export async function loadPlants() {
  const seq = state.loadSeq;
  const orgId = state.orgId;
  if (!orgId) return;
  let plants;
  try {
    plants = await api("GET", `${ADMIN}/plants`, { query: { orgId } });
  } catch (error) {
    reportError(error, "plants");
    return;
  }
  dismissErrors("plants");
  if (seq !== state.loadSeq || orgId !== state.orgId) return;
  state.plants = plants;
  renderPlants();
  noticeEditedPlantChanged();
}

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
  await reloadOrg();
  $("#new-plant").disabled ? $("#refresh-plants").focus() : $("#new-plant").focus();
}

/** Whether the reading went out, and why not: the answer's `published` and `reason` (§8). */
function publishedText(reading) {
  const exchange = reading?.exchange || "vcp";
  const where = reading?.routingKey ? ` to ${exchange} / ${reading.routingKey}` : "";
  if (reading?.published === true) return ` Published${where}.`;
  if (reading?.published === false) {
    const reason = reading.reason ? `: ${reading.reason}` : "";
    return ` Not published${where}${reason}.`;
  }
  return "";
}

/** A telemetry reading (CONTRACT §8), offered where the service has telemetry. */
async function takeReading(plant, button) {
  await busy(button, async () => {
    try {
      const reading = await api("POST", `${ADMIN}/plants/${plant.id}/telemetry`);
      // §8 fixes soc and pBat in the reading; schemaVersion 2 (§12) adds the site's powers and
      // states, shown where the reading has them.
      const parts = [];
      if (typeof reading?.soc === "number") {
        parts.push(`SoC ${numberFormat.format(reading.soc)} %`);
      }
      if (typeof reading?.pBat === "number") {
        parts.push(`power ${numberFormat.format(reading.pBat)} kW`);
      }
      for (const [key, label] of [["pPv", "PV"], ["pLoad", "load"], ["pGrid", "grid"]]) {
        if (typeof reading?.[key] === "number") {
          parts.push(`${label} ${numberFormat.format(reading[key])} kW`);
        }
      }
      for (const key of ["batteryState", "gridStatus"]) {
        if (typeof reading?.[key] === "string") parts.push(reading[key]);
      }
      if (reading?.stale === true) parts.push("stale (comms lost)");
      const summary = parts.length ? `: ${parts.join(", ")}` : " taken";
      const kind = reading?.published === false ? "error" : "ok";
      dismissErrors(`telemetry-${plant.id}`);
      const text = `Telemetry reading of ${plant.name}${summary}.${publishedText(reading)}`;
      toast(text, kind, `telemetry-${plant.id}`);
    } catch (error) {
      reportError(error, `telemetry-${plant.id}`);
    }
  });
}

/** The card's buttons and the plant editor; `reloadOrg` reads every card of the org afresh. */
export function initPlants(callbacks) {
  ({ reloadOrg } = callbacks);
  initPlantEditor({ reloadPlants: loadPlants, reloadOrg });

  $("#refresh-plants").addEventListener("click", (event) =>
    busy(event.currentTarget, () => reloadOrg()),
  );

  $("#new-plant").addEventListener("click", () => {
    if (!state.status || !state.status.enabled) return;
    openPlantDialog(null, null);
  });
}
