// Reading the user's ChatGPT history the way their own browser does, with their session: the
// access token from GET /api/auth/session, the list from GET /backend-api/conversations (paged by
// offset and limit), each conversation from GET /backend-api/conversation/{id}, the token as a
// bearer header. These are the calls open-source exporters make; the shapes are recorded in
// tests/clients/fixtures/chatgpt-backend/. A conversation's images are downloaded with the same
// session by chatgpt-images.mjs. Nothing read here leaves the browser except what the
// user later selects and signs, and that goes to the configured Tally API only.

export const CHATGPT_ORIGIN = "https://chatgpt.com";

/** Conversations per page of the history: the list endpoint's `limit`. */
export const PAGE_SIZE = 20;

/** Tries of one request that ChatGPT rate-limits (HTTP 429) before giving up. */
export const MAX_TRIES = 4;

/** Seconds of the first back-off when ChatGPT sends no Retry-After; doubled on each retry. */
export const FIRST_BACKOFF_SECONDS = 2;

/** The longest Retry-After honoured; a longer one is reported rather than waited out. */
export const MAX_WAIT_SECONDS = 60;

/** Why the history cannot be read; `state` names the screen the page shows. */
export class ChatGptError extends Error {
  /** @param {string} message @param {"logged-out" | "expired" | "rate-limited" | "unreachable" | "refused"} state */
  constructor(message, state) {
    super(message);
    this.name = "ChatGptError";
    this.state = state;
  }
}

/**
 * @typedef {object} HistoryItem one line of the history list
 * @property {string} id
 * @property {string} title
 * @property {number | null} createdAt Unix seconds
 * @property {number | null} updatedAt Unix seconds
 */

/**
 * @typedef {object} HistoryPage
 * @property {HistoryItem[]} items
 * @property {number} total   how many conversations the account has, as ChatGPT counts them
 * @property {number} offset
 */

/**
 * ChatGPT gives times as Unix seconds (exports, older list answers) or ISO 8601 strings (the
 * list today); null when it gives none or something else.
 * @param {unknown} value
 * @returns {number | null}
 */
export function unixSeconds(value) {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms / 1000;
  }
  return null;
}

/**
 * One list entry, keeping only what the history shows; null for an entry without an id.
 * @param {any} raw
 * @returns {HistoryItem | null}
 */
export function historyItem(raw) {
  if (typeof raw?.id !== "string" || !raw.id) return null;
  return {
    id: raw.id,
    title: typeof raw.title === "string" && raw.title.trim() ? raw.title : "Untitled",
    createdAt: unixSeconds(raw.create_time),
    updatedAt: unixSeconds(raw.update_time),
  };
}

/** @param {number} seconds */
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/**
 * The user's ChatGPT history, read with their session.
 *
 * `onWait(seconds, why)` is told before each back-off, so the page can say "rate-limited by
 * ChatGPT, retrying in 4 s" rather than look stuck.
 */
export class ChatGptHistory {
  /**
   * @param {{origin?: string, fetch?: typeof fetch, sleep?: (seconds: number) => Promise<unknown>,
   *          onWait?: (seconds: number, why: string) => void}} [options]
   */
  constructor(options = {}) {
    this.origin = options.origin ?? CHATGPT_ORIGIN;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.sleep = options.sleep ?? sleep;
    this.onWait = options.onWait ?? (() => {});
    /** @type {string | null} */
    this.token = null;
  }

  /**
   * The access token of the session the browser holds with chatgpt.com.
   * @returns {Promise<string>}
   * @throws {ChatGptError} `logged-out` when there is no session
   */
  async accessToken() {
    const response = await this.request(`${this.origin}/api/auth/session`, { credentials: "include" });
    let session;
    try {
      session = await response.json();
    } catch {
      // A challenge page instead of JSON: the browser must visit chatgpt.com itself first.
      throw new ChatGptError("ChatGPT answered with a page instead of your session: open chatgpt.com in a tab, then try again.", "refused");
    }
    if (typeof session?.accessToken !== "string" || !session.accessToken) {
      throw new ChatGptError("You are not logged in to ChatGPT in this browser: log in at chatgpt.com, then try again.", "logged-out");
    }
    this.token = session.accessToken;
    return this.token;
  }

  /**
   * One page of the history, newest update first.
   * @param {number} offset
   * @param {number} [limit]
   * @returns {Promise<HistoryPage>}
   */
  async page(offset, limit = PAGE_SIZE) {
    const query = new URLSearchParams({ offset: String(offset), limit: String(limit), order: "updated" });
    const body = await this.backend(`/backend-api/conversations?${query}`);
    const items = Array.isArray(body?.items) ? body.items.map(historyItem).filter((i) => i !== null) : [];
    const total = Number.isSafeInteger(body?.total) && body.total >= 0 ? body.total : offset + items.length;
    return { items: /** @type {HistoryItem[]} */ (items), total, offset };
  }

  /**
   * One conversation as ChatGPT stores it (mapping, current_node, ...), for the normaliser.
   * @param {string} id
   * @returns {Promise<Record<string, unknown>>}
   */
  async conversation(id) {
    return this.backend(`/backend-api/conversation/${encodeURIComponent(id)}`);
  }

  /**
   * A backend call with the bearer token; a 401 fetches the session once more (tokens expire
   * after a while) before it gives up.
   * @param {string} path
   * @param {string} [notFound] what a 404 means, in words
   * @returns {Promise<any>}
   */
  async backend(path, notFound = "ChatGPT no longer has this conversation (deleted, or in another account).") {
    for (let attempt = 0; ; attempt += 1) {
      const token = this.token ?? (await this.accessToken());
      const response = await this.request(`${this.origin}${path}`, {
        credentials: "include", headers: { authorization: `Bearer ${token}`, accept: "application/json" },
      });
      if (response.status === 401 || response.status === 403) {
        this.token = null;
        if (attempt === 0) continue;
        throw new ChatGptError("Your ChatGPT session has expired: reload chatgpt.com (log in again if asked), then try again.", "expired");
      }
      if (response.status === 404) {
        throw new ChatGptError(notFound, "refused");
      }
      if (!response.ok) {
        throw new ChatGptError(`ChatGPT answered HTTP ${response.status}; try again later.`, "refused");
      }
      try {
        return await response.json();
      } catch {
        throw new ChatGptError("ChatGPT answered with something that is not JSON; try again later.", "refused");
      }
    }
  }

  /**
   * fetch, waiting out rate limits: Retry-After when ChatGPT sends one (up to MAX_WAIT_SECONDS),
   * else FIRST_BACKOFF_SECONDS doubled on each try.
   * @param {string} url
   * @param {RequestInit} init
   * @returns {Promise<Response>}
   */
  async request(url, init) {
    for (let attempt = 1; ; attempt += 1) {
      let response;
      try {
        response = await this.fetch(url, init);
      } catch (error) {
        throw new ChatGptError(`ChatGPT cannot be reached: ${/** @type {Error} */ (error).message}`, "unreachable");
      }
      if (response.status !== 429) return response;
      const asked = Number(response.headers.get("retry-after"));
      const wait = Number.isFinite(asked) && asked > 0 ? asked : FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1);
      if (attempt >= MAX_TRIES || wait > MAX_WAIT_SECONDS) {
        throw new ChatGptError(`ChatGPT is limiting how fast this browser reads it; wait ${Math.ceil(wait)} s and try again.`, "rate-limited");
      }
      this.onWait(wait, "rate-limited by ChatGPT");
      await this.sleep(wait);
    }
  }
}
