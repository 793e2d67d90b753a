// The sandbox state card (CONTRACT §11): download and restore a snapshot of the org's plants,
// reset them, and advance the simulated clock or restart it at an instant (frozen or not) where
// this service has one.
import { sentence } from "./api.js";
import {
  $,
  busy,
  confirmAction,
  dismissErrors,
  el,
  fullFormat,
  numberFormat,
  reportError,
  toast,
} from "./dom.js";
import { CLOCK_ADVANCE_PATH, CLOCK_PATH } from "./features.js";
import { clearErrors, clearFieldError, showSubmitError, typedNumber } from "./forms.js";
import { loadPlantDay } from "./plant-day.js";
import { ADMIN, api } from "./session.js";
import { currentOrg, state } from "./state.js";

// Every card of the org afresh (orgs.js's loadOrgData): set by initSandbox.
let reloadOrg = async () => {};

function showClock(clock) {
  const now = clock && typeof clock.now === "string" ? clock.now : null;
  const target = $("#clock-now");
  if (!now) {
    target.replaceChildren();
    return;
  }
  const time = el("time", { datetime: now, text: fullFormat.format(new Date(now)) });
  target.replaceChildren("Simulated time: ", time, clock.frozen ? " (frozen)" : "");
  // The restart form starts from the simulated minute, in UTC as datetime-local holds it.
  if (!$("#clock-at").value) $("#clock-at").value = new Date(now).toISOString().slice(0, 16);
  $("#clock-frozen").checked = Boolean(clock.frozen);
}

export async function loadClock() {
  const orgId = state.orgId;
  showClock(null);
  clearErrors($("#clock-form")); // an error about the org shown before goes with it
  clearErrors($("#clock-set-form"));
  $("#clock-at").value = "";
  if (!orgId || !state.clock || !state.clockRead) return;
  try {
    const clock = await api("GET", CLOCK_PATH, { query: { orgId } });
    if (orgId === state.orgId) showClock(clock);
  } catch {
    // An org never enabled has no clock yet: nothing to show.
  }
}

// A snapshot's shape (CONTRACT §11, GET snapshot): {plants: [...]}, each plant with these fields.
const SNAPSHOT_PLANT_FIELDS = {
  externalPlantId: "string",
  name: "string",
  esiState: "string",
  fvePeakPowerKwp: "number",
  capacityKwh: "number",
  configEnabled: "boolean",
  plantWithLoad: "boolean",
};

/** Why `data` is not a snapshot of this page's kind, or null when it has the shape of one. */
export function snapshotProblem(data) {
  if (!data || typeof data !== "object" || Array.isArray(data) || !Array.isArray(data.plants)) {
    return "it has no list of plants";
  }
  const extra = Object.keys(data).filter((key) => key !== "plants");
  if (extra.length) return `it has fields a snapshot does not have (${extra.join(", ")})`;
  for (const [index, plant] of data.plants.entries()) {
    const which = `plant ${index + 1}`;
    if (!plant || typeof plant !== "object" || Array.isArray(plant)) return `${which} is no plant`;
    for (const [key, type] of Object.entries(SNAPSHOT_PLANT_FIELDS)) {
      if (typeof plant[key] !== type) return `${which} has no ${key} (${type})`;
    }
    if (!Array.isArray(plant.timeConfigs)) return `${which} has no timeConfigs list`;
  }
  return null;
}

/** The card's buttons; `reloadOrg` reads every card of the org afresh (after restore, reset). */
export function initSandbox(callbacks) {
  ({ reloadOrg } = callbacks);

  $("#snapshot-download").addEventListener("click", (event) => {
    const org = currentOrg();
    if (!org) return;
    busy(event.currentTarget, async () => {
      try {
        const snapshot = await api("GET", `${ADMIN}/snapshot`, { query: { orgId: org.id } });
        dismissErrors("snapshot-download");
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
        reportError(error, "snapshot-download");
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
    // Checked before the question: a file that cannot be a snapshot is not offered to restore.
    const problem = snapshotProblem(snapshot);
    if (problem) {
      toast(`${file.name} is not a snapshot: ${problem}. Nothing was restored.`, "error");
      return;
    }
    const count = snapshot.plants.length;
    const done = await confirmAction({
      title: `Restore ${file.name} into ${org.name}?`,
      body: [
        "The organization's plants become exactly the " +
          (count === 1 ? "plant" : `${count} plants`) +
          " of the snapshot, with their time configs and versions; plants that are not in it are " +
          "deleted. Credentials stay as they are.",
      ],
      confirmLabel: "Restore snapshot",
      danger: true,
      action: () => api("PUT", `${ADMIN}/snapshot`, { query: { orgId: org.id }, body: snapshot }),
    });
    if (!done) return;
    toast(`Snapshot restored into ${org.name}.`);
    await reloadOrg();
  });

  $("#reset-btn").addEventListener("click", async () => {
    const org = currentOrg();
    if (!org) return;
    const done = await confirmAction({
      title: `Reset the sandbox plants of ${org.name}?`,
      body: [
        "Every sandbox plant of this organization is deleted, with its time config, and the " +
          "default plant is created again under a new external plant ID. Voke plants linked to " +
          "the old plants find nothing to sync any more.",
        "Credentials, faults and the journal stay as they are.",
      ],
      confirmLabel: "Reset plants",
      danger: true,
      action: () => api("POST", `${ADMIN}/reset`, { query: { orgId: org.id } }),
    });
    if (!done) return;
    toast(sentence(done.message));
    await reloadOrg();
  });

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
        await loadPlantDay();
      } catch (error) {
        showSubmitError(form, error);
      }
    });
  });

  // PUT clock (CONTRACT §11): the simulation restarts at `at`, read as UTC like every time here.
  $("#clock-set-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const org = currentOrg();
    if (!org) return;
    busy($("#clock-set"), async () => {
      clearErrors(form);
      const typed = $("#clock-at").value.trim();
      const at = /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(typed) ? `${typed}:00Z` : typed;
      const frozen = $("#clock-frozen").checked;
      try {
        const query = { orgId: org.id };
        const clock = await api("PUT", CLOCK_PATH, { query, body: { at, frozen } });
        showClock(clock);
        const how = frozen ? ", frozen" : "";
        toast(`Clock of ${org.name} set to ${fullFormat.format(new Date(clock.now))}${how}.`);
        await loadPlantDay();
      } catch (error) {
        showSubmitError(form, error);
      }
    });
  });
  $("#clock-at").dataset.errorId = "clock-at-error";
  $("#clock-at").addEventListener("input", (event) => clearFieldError(event.target));

  $("#clock-minutes").dataset.errorId = "clock-minutes-error";
  $("#clock-minutes").addEventListener("input", (event) => clearFieldError(event.target));
}
