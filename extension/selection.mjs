// A list of conversations the user picks from: one row each, with a checkbox, the points
// estimate and whether Tally holds it already. The selection outlives paging and searching.

/**
 * @typedef {object} Entry one conversation on offer
 * @property {string} key           ChatGPT's id, or the position in a file
 * @property {string} title
 * @property {number | null} updatedAt Unix seconds
 * @property {() => Promise<any>} load its conversation object
 * @property {(conversation: any, maxImageBytes?: number) => Promise<import("./chatgpt-images.mjs").DownloadedImage[]>} [images]
 *   its images' bytes (a ChatGPT history conversation's, downloaded; an export file has none)
 * @property {import("./share.mjs").Prepared | null} prepared filled once loaded
 * @property {Promise<void>} [preparing] the one filling of `prepared`, while it runs and after
 * @property {{id: number, status: string} | null | undefined} shared what Tally holds of it
 *   (undefined: not looked up yet)
 */

/**
 * Run `work` over `items`, at most `width` at a time (gentle on ChatGPT and on Tally).
 * @template T
 * @param {T[]} items
 * @param {number} width
 * @param {(item: T) => Promise<void>} work
 */
export async function runPool(items, width, work) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}

/** @param {number | null} seconds */
export function shortDate(seconds) {
  return seconds === null ? "" : new Date(seconds * 1000).toISOString().slice(0, 10);
}

export class SelectableList {
  /**
   * @param {HTMLElement} rows the tbody
   * @param {HTMLElement} count where "N selected" goes
   * @param {() => void} onChange
   */
  constructor(rows, count, onChange) {
    this.rows = rows;
    this.count = count;
    this.onChange = onChange;
    /** @type {Map<string, Entry>} every entry ever selected, by key, in selection order */
    this.selected = new Map();
    /** @type {Entry[]} */
    this.shown = [];
  }

  /** @param {Entry[]} entries the rows to show now */
  show(entries) {
    this.shown = entries;
    this.rows.replaceChildren(...entries.map((e) => this.row(e)));
    this.updateCount();
  }

  /** @param {Entry} entry */
  refresh(entry) {
    const old = this.rows.querySelector(`tr[data-key="${CSS.escape(entry.key)}"]`);
    if (old) old.replaceWith(this.row(entry));
  }

  refreshAll() {
    for (const entry of this.shown) this.refresh(entry);
  }

  /** @param {boolean} on */
  selectShown(on) {
    for (const entry of this.shown) {
      if (on) this.selected.set(entry.key, entry);
      else this.selected.delete(entry.key);
    }
    this.refreshAll();
    this.updateCount();
    this.onChange();
  }

  allShownSelected() {
    return this.shown.length > 0 && this.shown.every((e) => this.selected.has(e.key));
  }

  /** @returns {Entry[]} */
  selectedEntries() {
    return [...this.selected.values()];
  }

  updateCount() {
    const n = this.selected.size;
    this.count.textContent = n ? `${n} selected` : "";
  }

  /** @param {Entry} entry */
  row(entry) {
    const tr = document.createElement("tr");
    tr.dataset.key = entry.key;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = this.selected.has(entry.key);
    box.setAttribute("aria-label", `Select ${entry.title}`);
    box.addEventListener("change", () => {
      if (box.checked) this.selected.set(entry.key, entry);
      else this.selected.delete(entry.key);
      this.updateCount();
      this.onChange();
    });
    const p = entry.prepared;
    const points = p === null ? "…" : p.points === null ? "—" : String(p.points);
    let shared = "";
    if (p?.error) shared = `cannot be shared: ${p.error}`;
    else if (entry.shared) shared = `shared (#${entry.shared.id}, ${entry.shared.status})`;
    tr.dataset.shared = entry.shared ? "true" : "false";
    tr.append(cell(box), cell(entry.title, "title"), cell(shortDate(entry.updatedAt)),
      cell(points, "num points"), cell(shared, "shared"));
    return tr;
  }
}

/**
 * @param {Node | string} content
 * @param {string} [className]
 */
function cell(content, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.append(content);
  return td;
}
