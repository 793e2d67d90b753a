// The plant editor's time-config rows (CONTRACT §4's blocks): shown, edited, moved, added and
// removed as strings, read back in the API's types, compared and described as values.
import { $, numberFormat } from "./dom.js";
import {
  appendRowError,
  bindRowField,
  clearErrors,
  clearFieldError,
  numberOrNull,
} from "./forms.js";
import { state } from "./state.js";

const BLOCK_KEYS = ["from", "to", "pBatMin", "pBatMax", "socMin", "socMax"];
const NUMBER_KEYS = new Set(["pBatMin", "pBatMax", "socMin", "socMax"]);
// A new plant's schedule until the user changes it.
export const DEFAULT_BLOCKS = [
  { from: "00:00", to: "07:00", pBatMax: 10, pBatMin: -10, socMax: 95, socMin: 20 },
  { from: "07:00", to: "23:59", pBatMax: 50, pBatMin: -50, socMax: 90, socMin: 30 },
];

const plantForm = $("#plant-form");

function blockToRow(block) {
  return Object.fromEntries(BLOCK_KEYS.map((key) => [key, String(block[key] ?? "")]));
}

/** "700" or "0700" -> "07:00", "7:30" -> "07:30"; anything else is left for the API to judge. */
function normalizeTime(text) {
  const value = text.trim();
  const match = /^(\d{1,2}):?(\d{2})$/.exec(value);
  return match ? `${match[1].padStart(2, "0")}:${match[2]}` : value;
}

function rowToBlock(row) {
  return Object.fromEntries(
    BLOCK_KEYS.map((key) => [
      key,
      NUMBER_KEYS.has(key) ? numberOrNull(row[key]) : normalizeTime(row[key]),
    ]),
  );
}

/** The editor's rows replaced by `blocks` (as the API gives them). */
export function showBlocks(blocks) {
  state.blocks = blocks.map(blockToRow);
  renderBlocks();
}

/** The rows as the editor holds them, in the API's types. */
export function readBlocks() {
  return state.blocks.map(rowToBlock);
}

function renderBlocks(focus) {
  const list = $("#block-list");
  const template = $("#block-template");
  const count = state.blocks.length;
  list.replaceChildren(
    ...state.blocks.map((row, index) => {
      const item = template.content.firstElementChild.cloneNode(true);
      const number = index + 1;
      $("[data-role=number]", item).textContent = String(number);
      for (const key of BLOCK_KEYS) {
        const input = bindRowField(item, key, `block-${index}`, `timeConfigs[${index}]`, row[key]);
        input.addEventListener("input", () => {
          state.blocks[index][key] = input.value;
          clearFieldError(input);
        });
        if (!NUMBER_KEYS.has(key)) {
          input.addEventListener("blur", () => {
            input.value = normalizeTime(input.value);
            state.blocks[index][key] = input.value;
          });
        }
      }
      appendRowError(item, `timeConfigs[${index}]`);
      const buttons = {
        up: [index === 0, `Move block ${number} up`],
        down: [index === count - 1, `Move block ${number} down`],
        remove: [false, `Remove block ${number}`],
      };
      for (const [action, [disabled, label]] of Object.entries(buttons)) {
        const button = $(`[data-action="${action}"]`, item);
        button.disabled = disabled;
        button.setAttribute("aria-label", label);
        button.title = label;
        button.addEventListener("click", () => changeBlocks(action, index));
      }
      return item;
    }),
  );
  $("#no-blocks").hidden = count > 0;
  if (focus) {
    const target = $(focus, list) || $("#add-block");
    target.focus();
  }
}

function changeBlocks(action, index) {
  const blocks = state.blocks;
  let focus;
  if (action === "up" || action === "down") {
    const to = action === "up" ? index - 1 : index + 1;
    [blocks[index], blocks[to]] = [blocks[to], blocks[index]];
    const edge = to === 0 || to === blocks.length - 1;
    const other = action === "up" ? "down" : "up";
    focus = `.block:nth-child(${to + 1}) [data-action="${edge ? other : action}"]`;
  } else {
    blocks.splice(index, 1);
    focus = blocks.length
      ? `.block:nth-child(${Math.min(index, blocks.length - 1) + 1}) [data-action="remove"]`
      : null;
  }
  // Server errors point at positions that just moved: they no longer apply.
  clearErrors(plantForm);
  renderBlocks(focus || "#add-block");
}

export function initTimeConfig() {
  $("#add-block").addEventListener("click", () => {
    const last = state.blocks.at(-1);
    // The new block starts where the last one ends; after a block ending 23:59 there is no room.
    let from = "00:00";
    if (last) from = /^\d\d:\d\d$/.test(last.to) && last.to !== "23:59" ? last.to : "";
    state.blocks.push({
      from,
      to: "23:59",
      pBatMin: last ? last.pBatMin : "-10",
      pBatMax: last ? last.pBatMax : "10",
      socMin: last ? last.socMin : "20",
      socMax: last ? last.socMax : "90",
    });
    clearErrors(plantForm);
    renderBlocks(`#block-${state.blocks.length - 1}-from`);
  });
}

// Compared field by field, numbers as numbers: the API may give the keys of a block in any
// order, and 10 and 10.0 are one value (CONTRACT §4: a PATCH that changes nothing is no version).
export function sameNumber(a, b) {
  return a === null || b === null ? a === b : Number(a) === Number(b);
}

export function sameBlocks(a, b) {
  return (
    a.length === b.length &&
    a.every((block, index) =>
      BLOCK_KEYS.every((key) =>
        NUMBER_KEYS.has(key)
          ? sameNumber(block[key], b[index][key])
          : block[key] === b[index][key],
      ),
    )
  );
}

/** One block as the conflict panel says it. */
export function blockText(block) {
  const n = (value) => numberFormat.format(value);
  return (
    `${block.from}–${block.to} (${n(block.pBatMin)} to ${n(block.pBatMax)} kW, ` +
    `SoC ${n(block.socMin)}–${n(block.socMax)} %)`
  );
}
