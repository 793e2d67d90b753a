// The journal card: the org's trading calls (CONTRACT §11), newest first, refreshed while the
// page is in view; a newly applied config/update makes the plants table read again. A row opens
// to show what a config update sent and was answered, and what a fault rule did to the call.
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
// GET journal gives the newest `limit` calls (CONTRACT §11); older ones come a hundred at a time
// from `before` the oldest loaded, and a refresh reads as many of the newest as are loaded.
const JOURNAL_ROWS = 100;
// The journal keeps at most this many blocks and errors of a call (the rest are not recorded).
const DETAILS_KEPT = 100;
// Rows shown at once; "Show more" shows the next page of the loaded ones.
const PHONE_PAGE = 10;
const LAPTOP_PAGE = 50;
const phone = matchMedia("(max-width: 640px)");

// What the journal holds: the rows as GET journal gave them, whether the service may hold older
// ones, how many of those the filters let through are shown, and which rows are open.
const journal = { entries: [], older: false, shown: 0, open: new Set() };

// What a call and a result code are, in plain words.
const ENDPOINT_WORDS = {
  token: "Voke signs in",
  "plant/list": "Voke lists plants",
  "plant/config": "Voke reads a schedule",
  "plant/config/update": "Voke pushes a schedule",
};
// What a fault rule did to a call (the entry's `fault`), in plain words.
const FAULT_WORDS = {
  error: ["injected", "bad", "An error fault rule answered this call: the ESM itself did not."],
  drop: ["dropped", "bad", "A drop fault closed the connection without an answer."],
  latency: ["delayed", "off", "A latency fault rule made this answer wait."],
};
const BLOCK_FIELDS = ["from", "to", "pBatMin", "pBatMax", "socMin", "socMax"];
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

/** What a fault rule made of the answer, beside its status; a drop's status says it already. */
function faultPill(fault) {
  const known = FAULT_WORDS[fault];
  if (!known || fault === "drop") return null;
  const [words, kind, title] = known;
  return el("span", { class: `pill ${kind} fault`, text: words, title });
}

function entryKey(entry) {
  return [entry.at, entry.path, entry.status, entry.configUpdateReqCode ?? ""].join(" ");
}

function hasDetails(entry) {
  return entry.timeConfigs != null || entry.errors != null || entry.fault != null;
}

function blocksTable(blocks) {
  const head = el("tr", {}, ...BLOCK_FIELDS.map((name) => el("th", { scope: "col", text: name })));
  const rows = blocks.map((block) =>
    el("tr", {}, ...BLOCK_FIELDS.map((name) => el("td", { text: String(block[name]) }))),
  );
  return el(
    "div",
    { class: "table-wrap" },
    el("table", { class: "journal-blocks" }, el("thead", {}, head), el("tbody", {}, ...rows)),
  );
}

function keptNote(count, what) {
  if (count < DETAILS_KEPT) return null;
  const text = `The journal keeps the first ${DETAILS_KEPT} ${what}.`;
  return el("p", { class: "muted small", text });
}

/** The opened row: what a fault rule did, the errors answered, the blocks sent. */
function detailsOf(entry) {
  const parts = [];
  const fault = FAULT_WORDS[entry.fault];
  if (fault) parts.push(el("p", { class: "journal-fault", text: fault[2] }));
  if (entry.errors != null) {
    parts.push(el("h3", { text: `Errors answered (${entry.errors.length})` }));
    parts.push(
      entry.errors.length
        ? el(
            "ul",
            { class: "journal-errors" },
            ...entry.errors.map((error) =>
              el("li", {}, el("code", { text: error.field }), ` ${error.message}`),
            ),
          )
        : el("p", { class: "muted", text: "None: the answer listed no errors." }),
      keptNote(entry.errors.length, "errors"),
    );
  }
  if (entry.timeConfigs != null) {
    parts.push(el("h3", { text: `Blocks sent (${entry.timeConfigs.length})` }));
    parts.push(
      entry.timeConfigs.length
        ? blocksTable(entry.timeConfigs)
        : el("p", { class: "muted", text: "None: an empty schedule." }),
      keptNote(entry.timeConfigs.length, "blocks"),
    );
  } else if (entry.path === CONFIG_UPDATE_PATH) {
    parts.push(
      el("p", { class: "muted", text: "No blocks: the body was refused before they were read." }),
    );
  }
  return el("div", { class: "journal-details" }, ...parts.filter(Boolean));
}

function toggleRow(entry) {
  const key = entryKey(entry);
  if (journal.open.has(key)) journal.open.delete(key);
  else journal.open.add(key);
  renderJournal();
  $(`#journal-body button[data-key="${CSS.escape(key)}"]`)?.focus();
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
  const older = journal.older; // the service may hold older calls
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
  const rows = shown.flatMap((entry) => {
    const endpoint = endpointOf(entry);
    const words = ENDPOINT_WORDS[endpoint];
    const key = entryKey(entry);
    const open = journal.open.has(key);
    const marks = [
      entry.status === 0 ? "dropped" : null,
      entry.fault === "error" ? "injected" : null,
      entry.resultCode === "cfg_rejected" ? "rejected" : null,
      hasDetails(entry) ? "openable" : null,
      open ? "open" : null,
    ].filter(Boolean);
    const toggle = hasDetails(entry)
      ? el("button", {
          type: "button",
          class: "row-toggle",
          "data-key": key,
          "aria-expanded": String(open),
          "aria-label": `${open ? "Hide" : "Show"} the details of this ${endpoint} call`,
          text: open ? "▾" : "▸",
          onclick: (event) => {
            event.stopPropagation();
            toggleRow(entry);
          },
        })
      : null;
    const row = el(
      "tr",
      {
        class: marks.join(" ") || null,
        // The whole row opens too (the button is there for the keyboard and screen readers).
        onclick: hasDetails(entry)
          ? (event) => {
              if (!event.target.closest("button, a") && !getSelection().toString()) {
                toggleRow(entry);
              }
            }
          : null,
      },
      cell(
        "Time",
        el("span", { class: "nowrap" }, toggle, toggle ? " " : null, timeOfDay(entry.at)),
      ),
      cell(
        "Call",
        el("span", { class: "nowrap" }, el("code", { text: entry.method }), ` ${endpoint}`),
        words ? el("span", { class: "sub", text: words }) : null,
        entry.clientId ? el("span", { class: "sub mono", text: entry.clientId }) : null,
      ),
      cell(
        "Status",
        el("span", { class: "nowrap" }, statusPill(entry.status), " ", faultPill(entry.fault)),
      ),
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
    if (!open) return [row];
    const details = el("td", { colspan: "6" }, detailsOf(entry));
    return [row, el("tr", { class: "journal-detail" }, details)];
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

/**
 * Read the journal: the newest calls, as many as are loaded (a hundred at first); with `older`,
 * the next hundred `before` the oldest loaded, added below them.
 */
export async function loadJournal({ quiet = false, older = false } = {}) {
  const orgId = state.orgId;
  if (!orgId || state.journalLoading) return;
  state.journalLoading = true;
  if (!quiet) showJournalMessage("Loading the journal…", "loading");
  if (!quiet) {
    journal.entries = [];
    journal.older = false;
    journal.shown = 0;
    journal.open.clear();
  }
  try {
    const oldest = journal.entries.at(-1);
    const limit = older ? JOURNAL_ROWS : Math.max(JOURNAL_ROWS, journal.entries.length);
    const query = older && oldest ? { orgId, limit, before: oldest.at } : { orgId, limit };
    const entries = await api("GET", `${ADMIN}/journal`, { query });
    if (orgId !== state.orgId) return;
    journal.entries = older ? [...journal.entries, ...entries] : entries;
    journal.older = entries.length >= limit;
    dismissErrors("journal");
    renderJournal();
    noticeConfigUpdates(orgId, journal.entries);
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
    journal.shown += pageSize();
    busy(event.currentTarget, () => loadJournal({ quiet: true, older: true }));
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
