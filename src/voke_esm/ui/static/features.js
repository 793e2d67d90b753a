// What this service offers beyond the contract's core, read from its /openapi.json:
// telemetry snapshots (CONTRACT §8), the simulated clock (§11) and the plant's day (§12).
import { request } from "./api.js";
import { $ } from "./dom.js";
import { state } from "./state.js";

const TELEMETRY_PATH = "/api/v1/voke-esm/admin/plants/{id}/telemetry";
export const CLOCK_PATH = "/api/v1/voke-esm/admin/clock";
export const CLOCK_ADVANCE_PATH = "/api/v1/voke-esm/admin/clock/advance";
const TIMESERIES_PATH = "/api/v1/voke-esm/admin/plants/{id}/timeseries";
const CONDITIONS_PATH = "/api/v1/voke-esm/admin/plants/{id}/conditions";

/** Telemetry (CONTRACT §8) and the clock (§11) are offered only where this service has them. */
export async function detectFeatures() {
  try {
    const schema = await request("GET", "/openapi.json");
    const paths = (schema && schema.paths) || {};
    state.telemetry = Boolean(paths[TELEMETRY_PATH]);
    state.clock = Boolean(paths[CLOCK_ADVANCE_PATH]);
    state.clockRead = Boolean(paths[CLOCK_PATH]);
    state.clockSet = Boolean(paths[CLOCK_PATH]?.put);
    state.timeseries = Boolean(paths[TIMESERIES_PATH]);
    state.conditions = Boolean(paths[CONDITIONS_PATH]?.put);
  } catch {
    state.telemetry = state.clock = state.clockRead = state.clockSet = false;
    state.timeseries = state.conditions = false;
  }
  $("#clock-form").hidden = !state.clock;
  $("#clock-set-form").hidden = !state.clockSet;
}
