// The journal card: the org's trading calls (CONTRACT §11), newest first, refreshed while the
// page is in view; a newly applied config/update makes the plants table read again.
import { describeError } from "./api.js";
import {
  $,
  busy,
  cell,
  clockFormat,
  confirmAction,
  el,
  fullFormat,
  numberFormat,
  toast,
} from "./dom.js";
import { loadPlants } from "./plants.js";
import { ADMIN, SessionEnded, api } from "./session.js";
import { currentOrg, state } from "./state.js";

const TRADING = "/api/v1/voke-esm/trading/";
const CONFIG_UPDATE_PATH = "/api/v1/voke-esm/trading/plant/config/update";
const JOURNAL_ROWS = 100;

function timeOfDay(iso) {
  const moment = new Date(iso);
  return el("time", {
    datetime: iso,
    title: fullFormat.format(moment),
    text: clockFormat.format(moment),
  });
}

function showJournalMessage(message, kind) {
  const td = el("td", { colspan: "6", class: `table-message ${kind}`, text: message });
  $("#journal-body").replaceChildren(el("tr", {}, td));
}

function statusPill(status) {
  if (status === 0) {
    return el("span", { class: "pill off", text: "dropped", title: "closed without an answer" });
  }
  return el("span", { class: `pill ${status < 400 ? "on" : "bad"}`, text: String(status) });
}

function dash() {
  return el("span", { class: "muted", text: "—" });
}

function renderJournal(entries) {
  if (!entries.length) {
    showJournalMessage("No trading calls recorded for this organization yet.", "empty");
    return;
  }
  const rows = entries.map((entry) => {
    const path = entry.path;
    const endpoint = path.startsWith(TRADING) ? path.slice(TRADING.length) : path;
    return el(
      "tr",
      {},
      cell("Time", timeOfDay(entry.at)),
      cell(
        "Call",
        el("span", { class: "nowrap" }, el("code", { text: entry.method }), ` ${endpoint}`),
        entry.clientId ? el("span", { class: "sub mono", text: entry.clientId }) : null,
      ),
      cell("Status", statusPill(entry.status)),
      cell("Plant", entry.plantId ? el("code", { text: entry.plantId }) : dash()),
      cell(
        "Config update",
        entry.configUpdateReqCode
          ? el("span", { class: "mono clamp", text: entry.configUpdateReqCode })
          : dash(),
        entry.resultCode ? el("span", { class: "sub mono", text: entry.resultCode }) : null,
      ),
      cell(
        "Duration",
        el("span", { class: "nowrap", text: `${numberFormat.format(entry.durationMs)} ms` }),
      ),
    );
  });
  $("#journal-body").replaceChildren(...rows);
}

/**
 * Voke pushed a schedule (the journal shows a new applied config/update): the plants table
 * shows the stored schedules, so it is read again. The first look at an org only takes note.
 */
function noticeConfigUpdates(orgId, entries) {
  const newest = entries.find(
    (entry) => entry.path === CONFIG_UPDATE_PATH && entry.resultCode === "applied_ok",
  );
  const key = newest
    ? [newest.at, newest.clientId, newest.plantId, newest.configUpdateReqCode].join(" ")
    : null;
  const seen = state.lastConfigUpdate;
  state.lastConfigUpdate = { orgId, key };
  if (seen && seen.orgId === orgId && key !== null && key !== seen.key) loadPlants();
}

export async function loadJournal({ quiet = false } = {}) {
  const orgId = state.orgId;
  if (!orgId || state.journalLoading) return;
  state.journalLoading = true;
  if (!quiet) showJournalMessage("Loading the journal…", "loading");
  try {
    const query = { orgId, limit: JOURNAL_ROWS };
    const entries = await api("GET", `${ADMIN}/journal`, { query });
    if (orgId !== state.orgId) return;
    renderJournal(entries);
    noticeConfigUpdates(orgId, entries);
    $("#journal-updated").textContent = state.journalPaused
      ? "Paused"
      : `Updated ${clockFormat.format(new Date())}`;
  } catch (error) {
    if (error instanceof SessionEnded || orgId !== state.orgId) return;
    if (quiet) $("#journal-updated").textContent = `Not refreshed: ${describeError(error)}`;
    else showJournalMessage(describeError(error), "error");
  } finally {
    state.journalLoading = false;
  }
}

export function initJournal() {
  $("#journal-pause").addEventListener("click", (event) => {
    const button = event.currentTarget;
    state.journalPaused = !state.journalPaused;
    button.setAttribute("aria-pressed", String(state.journalPaused));
    button.textContent = state.journalPaused ? "Resume" : "Pause";
    $("#journal-updated").textContent = state.journalPaused ? "Paused" : "";
    if (!state.journalPaused) loadJournal({ quiet: true });
  });

  $("#journal-refresh").addEventListener("click", (event) =>
    busy(event.currentTarget, () => loadJournal({ quiet: true })),
  );

  $("#journal-clear").addEventListener("click", async () => {
    const org = currentOrg();
    if (!org) return;
    const done = await confirmAction({
      title: `Clear the journal of ${org.name}?`,
      body: [
        "Every recorded trading call of this organization is forgotten. " +
          "New calls are recorded as before.",
      ],
      confirmLabel: "Clear journal",
      danger: true,
      action: () => api("DELETE", `${ADMIN}/journal`, { query: { orgId: org.id } }),
    });
    if (!done) return;
    toast(`Journal of ${org.name} cleared.`);
    await loadJournal();
  });
}
