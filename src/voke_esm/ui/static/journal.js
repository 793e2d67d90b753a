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
  dismissErrors,
  numberFormat,
  reportError,
  toast,
} from "./dom.js";
import { loadPlants } from "./plants.js";
import { ADMIN, SessionEnded, api } from "./session.js";
import { currentOrg, state } from "./state.js";

const TRADING = "/api/v1/voke-esm/trading/";
const CONFIG_UPDATE_PATH = "/api/v1/voke-esm/trading/plant/config/update";
// GET journal gives the newest `limit` calls (CONTRACT §11); it has no "before" to page back by,
// so older calls come by asking for more of the newest ones, a hundred more at a time.
const JOURNAL_ROWS = 100;
// Rows shown at once; "Show more" shows the next page of the loaded ones.
const PHONE_PAGE = 10;
const LAPTOP_PAGE = 50;
const phone = matchMedia("(max-width: 640px)");

// What the journal holds: the rows as GET journal last gave them, how many were asked for, and how
// many of those the filters let through are shown.
const journal = { entries: [], limit: JOURNAL_ROWS, shown: 0 };

// What a call and a result code are, in plain words.
const ENDPOINT_WORDS = {
  token: "Voke signs in",
  "plant/list": "Voke lists plants",
  "plant/config": "Voke reads a schedule",
  "plant/config/update": "Voke pushes a schedule",
};
const RESULT_WORDS = {
  applied_ok: ["applied", "on", "The schedule was stored and is the plant's time config now."],
  cfg_accepted: ["checked only", "off", "validateOnly: the schedule was valid; nothing stored."],
  cfg_rejected: ["rejected", "bad", "The schedule was refused; the plant kept its time config."],
};

function pageSize() {
  return phone.matches ? PHONE_PAGE : LAPTOP_PAGE;
}

function endpointOf(entry) {
  return entry.path.startsWith(TRADING) ? entry.path.slice(TRADING.length) : entry.path;
}

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
    // Only a drop fault closes a call without an answer (CONTRACT §11).
    return el("span", {
      class: "pill bad",
      text: "dropped",
      title: "A drop fault closed the connection without an answer",
    });
  }
  return el("span", { class: `pill ${status < 400 ? "on" : "bad"}`, text: String(status) });
}

function dash() {
  return el("span", { class: "muted", text: "—" });
}

function resultMark(code) {
  const known = RESULT_WORDS[code];
  if (!known) return el("span", { class: "sub mono", text: code });
  const [words, kind, title] = known;
  return el(
    "span",
    { class: "sub" },
    el("span", { class: `pill ${kind}`, text: words, title }),
    " ",
    el("span", { class: "mono", text: code }),
  );
}

function passes(entry) {
  const endpoint = $("#journal-filter-endpoint").value;
  const status = $("#journal-filter-status").value;
  const result = $("#journal-filter-result").value;
  if (endpoint && endpointOf(entry) !== endpoint) return false;
  if (result && entry.resultCode !== result) return false;
  if (status === "ok") return entry.status >= 200 && entry.status < 300;
  if (status === "4xx") return entry.status >= 400 && entry.status < 500;
  if (status === "5xx") return entry.status >= 500;
  if (status === "dropped") return entry.status === 0;
  return true;
}

/** The loaded rows the filters let through, a page at a time. */
function renderJournal() {
  const entries = journal.entries;
  const more = $("#journal-more");
  if (!entries.length) {
    showJournalMessage("No trading calls recorded for this organization yet.", "empty");
    $("#journal-shown").textContent = "";
    more.hidden = true;
    return;
  }
  const matching = entries.filter(passes);
  journal.shown = Math.max(Math.min(journal.shown, matching.length), pageSize());
  const shown = matching.slice(0, journal.shown);
  const older = entries.length >= journal.limit; // the service may hold older calls
  more.hidden = shown.length >= matching.length && !older;
  more.textContent = shown.length < matching.length ? "Show more" : "Show older calls";
  $("#journal-shown").textContent =
    matching.length === entries.length
      ? `${shown.length} of ${entries.length} loaded calls shown`
      : `${shown.length} of ${matching.length} matching calls shown ` +
        `(${entries.length} loaded)`;
  if (!shown.length) {
    showJournalMessage("No loaded call matches these filters.", "empty");
    return;
  }
  const rows = shown.map((entry) => {
    const endpoint = endpointOf(entry);
    const words = ENDPOINT_WORDS[endpoint];
    const marks = [
      entry.status === 0 ? "dropped" : null,
      entry.resultCode === "cfg_rejected" ? "rejected" : null,
    ].filter(Boolean);
    return el(
      "tr",
      { class: marks.join(" ") || null },
      cell("Time", timeOfDay(entry.at)),
      cell(
        "Call",
        el("span", { class: "nowrap" }, el("code", { text: entry.method }), ` ${endpoint}`),
        words ? el("span", { class: "sub", text: words }) : null,
        entry.clientId ? el("span", { class: "sub mono", text: entry.clientId }) : null,
      ),
      cell("Status", statusPill(entry.status)),
      cell("Plant", entry.plantId ? el("code", { text: entry.plantId }) : dash()),
      cell(
        "Config update",
        entry.configUpdateReqCode
          ? el("span", { class: "mono clamp", text: entry.configUpdateReqCode })
          : dash(),
        entry.resultCode ? resultMark(entry.resultCode) : null,
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
  if (!quiet) {
    journal.entries = [];
    journal.limit = JOURNAL_ROWS;
    journal.shown = 0;
  }
  try {
    const query = { orgId, limit: journal.limit };
    const entries = await api("GET", `${ADMIN}/journal`, { query });
    if (orgId !== state.orgId) return;
    journal.entries = entries;
    dismissErrors("journal");
    renderJournal();
    noticeConfigUpdates(orgId, entries);
    $("#journal-updated").textContent = state.journalPaused
      ? "Paused"
      : `Updated ${clockFormat.format(new Date())}`;
  } catch (error) {
    if (error instanceof SessionEnded || orgId !== state.orgId) return;
    if (quiet) {
      $("#journal-updated").textContent = `Not refreshed: ${describeError(error)}`;
    } else {
      // The reason goes in the page's one message for it; the table only says what is missing.
      showJournalMessage("The journal could not be loaded.", "error");
      reportError(error, "journal");
    }
  } finally {
    state.journalLoading = false;
  }
}

/** The loaded rows as GET journal gave them, as a JSON file. */
function downloadJournal() {
  const org = currentOrg();
  if (!org) return;
  const text = JSON.stringify(journal.entries, null, 2) + "\n";
  const link = el("a", {
    href: URL.createObjectURL(new Blob([text], { type: "application/json" })),
    download: `voke-esm-${org.slug}-journal.json`,
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

export function initJournal() {
  for (const filter of ["endpoint", "status", "result"]) {
    $(`#journal-filter-${filter}`).addEventListener("change", () => {
      journal.shown = 0;
      renderJournal();
    });
  }

  $("#journal-more").addEventListener("click", (event) => {
    const matching = journal.entries.filter(passes).length;
    if (journal.shown < matching) {
      journal.shown += pageSize();
      renderJournal();
      return;
    }
    journal.limit += JOURNAL_ROWS;
    journal.shown += pageSize();
    busy(event.currentTarget, () => loadJournal({ quiet: true }));
  });

  $("#journal-download").addEventListener("click", downloadJournal);

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
