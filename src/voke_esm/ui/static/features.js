// What this service offers beyond the contract's core, read from its /openapi.json:
// telemetry snapshots (CONTRACT §8) and the simulated clock (§11).
import { request } from "./api.js";
import { $ } from "./dom.js";
import { state } from "./state.js";

const TELEMETRY_PATH = "/api/v1/voke-esm/admin/plants/{id}/telemetry";
export const CLOCK_PATH = "/api/v1/voke-esm/admin/clock";
export const CLOCK_ADVANCE_PATH = "/api/v1/voke-esm/admin/clock/advance";

/** Telemetry (CONTRACT §8) and the clock (§11) are offered only where this service has them. */
export async function detectFeatures() {
  try {
    const schema = await request("GET", "/openapi.json");
    const paths = (schema && schema.paths) || {};
    state.telemetry = Boolean(paths[TELEMETRY_PATH]);
    state.clock = Boolean(paths[CLOCK_ADVANCE_PATH]);
    state.clockRead = Boolean(paths[CLOCK_PATH]);
  } catch {
    state.telemetry = state.clock = state.clockRead = false;
  }
  $("#clock-form").hidden = !state.clock;
}
