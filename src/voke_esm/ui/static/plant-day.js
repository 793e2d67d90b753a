// The plant's day (CONTRACT §12): one plant's simulated UTC day as a 24-hour bar of its blocks
// with a marker at the simulated time, a chart of its state of charge and four powers (uPlot,
// vendored), its config version and the last update Voke pushed; its conditions below.
import { describeError } from "./api.js";
import { initConditions, loadConditions, noteSimulatedNow } from "./conditions.js";
import { $, busy, el, fullFormat, numberFormat } from "./dom.js";
import { CLOCK_PATH } from "./features.js";
import { ADMIN, SessionEnded, api } from "./session.js";
import { state } from "./state.js";
import uPlot from "./vendor/uplot/uPlot.esm.js";

const MINUTES_PER_DAY = 24 * 60;
// The trading calls read for the plant's last config update. A journal that filters by endpoint
// and plant (§11's journal queries) answers with that plant's calls only; one that does not
// answers with the org's newest calls, of which this page keeps the plant's.
const JOURNAL_LIMIT = 500;
const UPDATE_PATH = "/plant/config/update";

// The chart's series, in the order of the timeseries points' fields (CONTRACT §12).
const SERIES = [
  { key: "soc", label: "SoC (%)", scale: "%", color: "--chart-soc", unit: "%" },
  { key: "pBat", label: "Battery pBat (kW)", scale: "kW", color: "--chart-bat", unit: "kW" },
  { key: "pPv", label: "PV pPv (kW)", scale: "kW", color: "--chart-pv", unit: "kW" },
  { key: "pLoad", label: "Load pLoad (kW)", scale: "kW", color: "--chart-load", unit: "kW" },
  { key: "pGrid", label: "Grid pGrid (kW)", scale: "kW", color: "--chart-grid", unit: "kW" },
];

const hourMinute = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
  timeZone: "UTC",
});
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeZone: "UTC" });

// While the simulated clock runs (not frozen) it follows real time: the marker moves with it.
const MARKER_TICK_MS = 30_000;

let plot = null; // the uPlot instance on show
let markerSeconds = null; // the simulated time the chart marks, in seconds
let shown = null; // {timeseries, clock, readAt}: the day on show and the clock as read with it
let loadSeq = 0;

function selectedPlant() {
  return state.plants.find((plant) => plant.id === state.dayPlantId) || null;
}

function minutesOf(hhmm) {
  const match = /^(\d\d):(\d\d)$/.exec(hhmm);
  return match ? Number(match[1]) * 60 + Number(match[2]) : null;
}

function percent(fraction) {
  return `${(Math.min(Math.max(fraction, 0), 1) * 100).toFixed(3)}%`;
}

/** The plant picker follows the table; the card shows once there is a plant to show. */
export function syncDayPlants() {
  const card = $("#day-card");
  const select = $("#day-plant");
  if (!state.timeseries || !state.plants.length) {
    card.hidden = true;
    state.dayPlantId = null;
    return;
  }
  if (!selectedPlant()) state.dayPlantId = state.plants[0].id;
  select.replaceChildren(
    ...state.plants.map((plant) =>
      el("option", { value: plant.id, text: `${plant.name} (${plant.externalPlantId})` }),
    ),
  );
  select.value = state.dayPlantId;
  card.hidden = false;
  loadPlantDay();
}

/** The day of `plantId` on show, and the user taken to it (the plants table's Day button). */
export function showPlantDay(plantId) {
  state.dayPlantId = plantId;
  $("#day-plant").value = plantId;
  loadPlantDay();
  $("#day-card").scrollIntoView({ block: "start" });
  $("#day-title").focus({ preventScroll: true });
}

/** Everything the card shows, read afresh: after a clock change, a push, a condition saved. */
export async function loadPlantDay() {
  const plant = selectedPlant();
  const orgId = state.orgId;
  if (!plant || !orgId || $("#day-card").hidden) return;
  const seq = ++loadSeq;
  $("#day-card").setAttribute("aria-busy", "true");
  loadConditions(plant);
  const journalQuery = {
    orgId,
    limit: JOURNAL_LIMIT,
    endpoint: "plant/config/update",
    plantId: plant.externalPlantId,
  };
  const [series, clock, snapshot, journal, conditions] = await Promise.allSettled([
    api("GET", `${ADMIN}/plants/${plant.id}/timeseries`, { query: { stepMinutes: 15 } }),
    state.clockRead ? api("GET", CLOCK_PATH, { query: { orgId } }) : Promise.resolve(null),
    api("GET", `${ADMIN}/snapshot`, { query: { orgId } }),
    api("GET", `${ADMIN}/journal`, { query: journalQuery }),
    state.conditions
      ? api("GET", `${ADMIN}/plants/${plant.id}/conditions`)
      : Promise.resolve({ conditions: [] }),
  ]);
  if (seq !== loadSeq) return; // another plant or a newer load meanwhile
  $("#day-card").setAttribute("aria-busy", "false");
  if (series.status === "rejected") {
    if (series.reason instanceof SessionEnded) return;
    showDayError(`The plant's day could not be loaded: ${describeError(series.reason)}`);
    return;
  }
  showDayError(null);
  const clockRead = clock.status === "fulfilled" ? clock.value : null;
  const now = clockRead ? clockRead.now : null;
  noteSimulatedNow(now);
  const stored =
    snapshot.status === "fulfilled"
      ? snapshot.value.plants.find((item) => item.externalPlantId === plant.externalPlantId)
      : null;
  const timeseries = series.value;
  shown = { timeseries, clock: clockRead, readAt: performance.now() };
  const blocks = stored ? stored.timeConfigs : plant.timeConfigs;
  $("#day-date").textContent = `${dayFormat.format(new Date(timeseries.from))} (UTC)`;
  showNow(now, clockRead);
  showBar(blocks);
  placeMarker(timeseries, now);
  showConditionLane(
    conditions.status === "fulfilled" ? conditions.value.conditions : [],
    timeseries,
  );
  showChart(timeseries);
  showStateAt(timeseries, now);
  $("#day-version").textContent = stored ? String(stored.version) : "—";
  showLastUpdate(
    journal.status === "fulfilled" ? journal.value : null,
    plant.externalPlantId,
  );
}

function showDayError(message) {
  const node = $("#day-error");
  node.hidden = !message;
  node.textContent = message || "";
}

function showNow(now, clock) {
  if (!now) {
    $("#day-now").textContent = "—";
    return;
  }
  const frozen = clock && clock.frozen ? " (frozen)" : "";
  $("#day-now").replaceChildren(
    el("time", { datetime: now, text: fullFormat.format(new Date(now)) }),
    frozen,
  );
}

/** The 24-hour bar: one segment per block, placed by its minutes. */
function showBar(blocks) {
  const n = (value) => numberFormat.format(value);
  const items = blocks.map((block, index) => {
    const from = minutesOf(block.from) ?? 0;
    const to = minutesOf(block.to) ?? from;
    const text =
      `${block.from}–${block.to} UTC: ${n(block.pBatMin)} to ${n(block.pBatMax)} kW, ` +
      `SoC ${n(block.socMin)}–${n(block.socMax)} %`;
    const item = el(
      "li",
      {
        class: `day-block tone-${index % 4}`,
        title: text,
        "data-from": block.from,
        "data-to": block.to,
      },
      el("span", { class: "sr-only", text }),
      el("span", { class: "day-block-label", "aria-hidden": "true", text: block.from }),
    );
    item.style.left = percent(from / MINUTES_PER_DAY);
    item.style.width = percent((to - from) / MINUTES_PER_DAY);
    return item;
  });
  if (!items.length) {
    items.push(el("li", { class: "day-empty", text: "No blocks: the battery idles all day." }));
  }
  $("#day-bar").replaceChildren(...items);
}

/** The simulated time on the bar and on the chart. */
function placeMarker(timeseries, now) {
  const marker = $("#day-marker");
  const start = Date.parse(timeseries.from);
  const end = Date.parse(timeseries.to);
  const at = now ? Date.parse(now) : Number.NaN;
  marker.hidden = !(at >= start && at <= end);
  markerSeconds = marker.hidden ? null : at / 1000;
  if (marker.hidden) return;
  marker.style.left = percent((at - start) / (end - start));
  marker.dataset.at = now;
  const label = `${hourMinute.format(new Date(at))} UTC`;
  $("#day-marker-label").textContent = label;
  marker.title = `Simulated time ${label}`;
}

/** Under the bar, the conditions that touch the day, clipped to it. */
function showConditionLane(conditions, timeseries) {
  const start = Date.parse(timeseries.from);
  const end = Date.parse(timeseries.to);
  const items = conditions
    .map((condition) => ({
      condition,
      from: Math.max(Date.parse(condition.from), start),
      to: Math.min(Date.parse(condition.to), end),
    }))
    .filter(({ from, to }) => from < to)
    .map(({ condition, from, to }) => {
      const factor = condition.kind === "cloud" ? ` (factor ${condition.factor})` : "";
      const text =
        `${condition.kind}${factor}: ${hourMinute.format(new Date(from))}–` +
        `${hourMinute.format(new Date(to))} UTC`;
      const item = el(
        "li",
        { class: `day-condition kind-${condition.kind}`, title: text, "data-kind": condition.kind },
        el("span", { class: "sr-only", text }),
        el("span", { class: "day-block-label", "aria-hidden": "true", text: condition.kind }),
      );
      item.style.left = percent((from - start) / (end - start));
      item.style.width = percent((to - from) / (end - start));
      return item;
    });
  $("#day-conditions").replaceChildren(...items);
  $("#day-conditions").hidden = items.length === 0;
}

function cssColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

function chartWidth() {
  return Math.max($("#day-chart").clientWidth, 280);
}

function chartHeight() {
  return matchMedia("(max-width: 640px)").matches ? 220 : 280;
}

/** uPlot reads seconds since the epoch; every time it writes is UTC (tzDate). */
function chartOptions(timeseries) {
  const start = Date.parse(timeseries.from) / 1000;
  const end = Date.parse(timeseries.to) / 1000;
  const muted = cssColor("--muted");
  const grid = { stroke: cssColor("--border"), width: 1 };
  const ticks = { stroke: cssColor("--border"), width: 1 };
  const font = "12px system-ui, sans-serif";
  return {
    width: chartWidth(),
    height: chartHeight(),
    tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "UTC"),
    cursor: { points: { size: 6 } },
    legend: { live: true },
    scales: {
      x: { time: true, range: () => [start, end] },
      "%": { range: [0, 100] },
    },
    series: [
      {
        // The legend's value says UTC ("13:30 UTC"); the axis below is labelled so.
        label: "Time",
        value: (u, seconds) =>
          seconds == null ? "—" : `${hourMinute.format(new Date(seconds * 1000))} UTC`,
      },
      ...SERIES.map((series) => ({
        label: series.label,
        scale: series.scale,
        stroke: cssColor(series.color),
        width: series.key === "soc" ? 2.5 : 1.6,
        value: (u, value) => (value == null ? "—" : `${numberFormat.format(value)} ${series.unit}`),
      })),
    ],
    axes: [
      {
        stroke: muted,
        grid,
        ticks,
        font,
        values: (u, splits) => splits.map((s) => hourMinute.format(new Date(s * 1000))),
        label: "Time (UTC)",
        labelFont: font,
        labelSize: 18,
      },
      { scale: "kW", label: "kW", stroke: muted, grid, ticks, font, labelFont: font },
      {
        scale: "%",
        side: 1,
        label: "SoC %",
        stroke: muted,
        grid: { show: false },
        ticks,
        font,
        labelFont: font,
      },
    ],
    hooks: {
      // The simulated time, as on the bar above.
      draw: [
        (u) => {
          if (markerSeconds === null) return;
          const x = Math.round(u.valToPos(markerSeconds, "x", true));
          const { ctx } = u;
          ctx.save();
          ctx.strokeStyle = cssColor("--danger");
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        },
      ],
    },
  };
}

/** The chart of the day; the element keeps the uPlot instance (`plot`) for tests to read back. */
function showChart(timeseries) {
  const target = $("#day-chart");
  const points = timeseries.points;
  const data = [
    points.map((point) => Date.parse(point.at) / 1000),
    ...SERIES.map((series) => points.map((point) => point[series.key])),
  ];
  if (plot) plot.destroy();
  plot = new uPlot(chartOptions(timeseries), data, target);
  target.plot = plot;
  $("#day-chart-summary").textContent = chartSummary(points);
}

function chartSummary(points) {
  if (!points.length) return "No points in this day.";
  const range = (key) => {
    const values = points.map((point) => point[key]);
    const [low, high] = [Math.min(...values), Math.max(...values)];
    return `${numberFormat.format(low)} to ${numberFormat.format(high)}`;
  };
  return (
    `Chart of ${points.length} points from ${hourMinute.format(new Date(points[0].at))} UTC: ` +
    `state of charge ${range("soc")} %, battery ${range("pBat")} kW, PV ${range("pPv")} kW, ` +
    `load ${range("pLoad")} kW, grid ${range("pGrid")} kW.`
  );
}

const kw = (value) => `${numberFormat.format(value)} kW`;

/** The point at or before the simulated time: its charge, battery and grid states. */
function showStateAt(timeseries, now) {
  const target = $("#day-state");
  const at = now ? Date.parse(now) : Number.NaN;
  const point = timeseries.points.findLast((item) => Date.parse(item.at) <= at);
  if (!point) {
    target.textContent = "—";
    return;
  }
  const parts = [
    `SoC ${numberFormat.format(point.soc)} %`,
    point.batteryState,
    point.gridStatus,
  ].filter(Boolean);
  target.replaceChildren(
    el("span", { text: parts.join(" · ") }),
    el("span", {
      class: "sub",
      text: `at ${hourMinute.format(new Date(point.at))} UTC, battery ${kw(point.pBat)}`,
    }),
  );
}

/** The newest config/update call for this plant in the journal: when, its code, its result. */
function showLastUpdate(entries, externalPlantId) {
  const target = $("#day-last-update");
  if (!entries) {
    target.textContent = "The journal could not be read.";
    return;
  }
  const update = entries.find(
    (entry) => entry.plantId === externalPlantId && entry.path.endsWith(UPDATE_PATH),
  );
  if (!update) {
    target.textContent = "None in the journal.";
    return;
  }
  const result = update.resultCode || `HTTP ${update.status ?? "no answer"}`;
  target.replaceChildren(
    el("time", { datetime: update.at, text: fullFormat.format(new Date(update.at)) }),
    el("span", { class: "sub", text: "real time, as the journal records calls" }),
    el("span", { class: "sub mono", text: update.configUpdateReqCode || "no configUpdateReqCode" }),
    el("span", {
      class: `pill ${update.resultCode === "applied_ok" ? "on" : "bad"}`,
      text: result,
    }),
  );
}

/** A running clock moved on since the day was read: the marker follows; a new day is read. */
function followClock() {
  const clock = shown && shown.clock;
  if (!clock || clock.frozen || $("#day-card").hidden || document.visibilityState !== "visible") {
    return;
  }
  const at = Date.parse(clock.now) + (performance.now() - shown.readAt);
  if (at >= Date.parse(shown.timeseries.to)) {
    loadPlantDay();
    return;
  }
  const now = new Date(at).toISOString();
  showNow(now, clock);
  placeMarker(shown.timeseries, now);
  showStateAt(shown.timeseries, now);
  if (plot) plot.redraw(false, false);
}

export function initPlantDay() {
  initConditions({ onChanged: loadPlantDay });
  $("#day-plant").addEventListener("change", (event) => {
    state.dayPlantId = event.target.value;
    loadPlantDay();
  });
  $("#day-refresh").addEventListener("click", (event) =>
    busy(event.currentTarget, () => loadPlantDay()),
  );
  setInterval(followClock, MARKER_TICK_MS);
  // The chart follows its card's width (a phone turned, a window resized).
  new ResizeObserver(() => {
    if (plot && !$("#day-card").hidden) {
      plot.setSize({ width: chartWidth(), height: chartHeight() });
    }
  }).observe($("#day-chart"));
}
