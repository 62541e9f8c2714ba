// The extension's ChatGPT reader (extension/chatgpt.mjs) against scripted answers: the session,
// the list's two time formats, token refresh, rate limits with and without Retry-After, and the
// state each failure shows. Run by tests/clients/test_chatgpt_reader.py (node --test).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ChatGptError, ChatGptHistory, MAX_TRIES, historyItem, unixSeconds } from "../../extension/chatgpt.mjs";

const fixtures = new URL("./fixtures/chatgpt-backend/", import.meta.url);
const session = JSON.parse(readFileSync(new URL("session.json", fixtures), "utf8"));
const recordedPage = JSON.parse(readFileSync(new URL("conversations-page.json", fixtures), "utf8"));

/**
 * A reader whose fetch answers from `script`, one function a call, recording each request.
 * @param {Array<(url: string, init: RequestInit) => Response>} script
 */
function reader(script) {
  /** @type {Array<{url: string, init: RequestInit}>} */
  const calls = [];
  /** @type {number[]} */
  const waits = [];
  const history = new ChatGptHistory({
    fetch: async (url, init) => {
      calls.push({ url: String(url), init: init ?? {} });
      const next = script.shift();
      if (!next) throw new Error(`unexpected request ${url}`);
      return next(String(url), init ?? {});
    },
    sleep: async () => {},
    onWait: (seconds) => waits.push(seconds),
  });
  return { history, calls, waits };
}

const json = (/** @type {number} */ status, /** @type {unknown} */ body, headers = {}) => () =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

test("the recorded list answer reads as history items", async () => {
  const { history, calls } = reader([json(200, session), json(200, recordedPage)]);
  const page = await history.page(0);
  assert.equal(page.total, 1);
  assert.deepEqual(page.items, [{ id: "69544e47-48c8-832c-a76e-8593ef78f119", title: "New chat",
    createdAt: Date.parse("2025-12-30T22:12:41.767145Z") / 1000, updatedAt: Date.parse("2025-12-30T22:12:41.766529Z") / 1000 }]);
  assert.equal(calls[0].url, "https://chatgpt.com/api/auth/session");
  assert.equal(calls[0].init.credentials, "include");
  assert.equal(calls[1].url, "https://chatgpt.com/backend-api/conversations?offset=0&limit=20&order=updated");
  assert.equal(/** @type {any} */ (calls[1].init.headers).authorization, `Bearer ${session.accessToken}`);
});

test("times come as Unix seconds or ISO strings; anything else is no time", () => {
  assert.equal(unixSeconds(1690617600.5), 1690617600.5);
  assert.equal(unixSeconds("2023-07-29T08:00:00Z"), 1690617600);
  for (const bad of [null, undefined, "yesterday", Number.NaN, {}, []]) assert.equal(unixSeconds(bad), null);
  assert.equal(historyItem({ title: "no id" }), null);
  assert.equal(historyItem({ id: "x", title: "  " })?.title, "Untitled");
});

test("a browser without a ChatGPT session is told to log in", async () => {
  const { history } = reader([json(200, {})]);
  await assert.rejects(history.page(0), (e) => e instanceof ChatGptError && e.state === "logged-out");
});

test("a challenge page instead of the session says to open chatgpt.com", async () => {
  const { history } = reader([() => new Response("<html>Just a moment...</html>", { status: 403 })]);
  await assert.rejects(history.page(0), (e) => e instanceof ChatGptError && e.state === "refused" && /open chatgpt.com/.test(e.message));
});

test("an expired token is refreshed once from the session", async () => {
  const { history, calls } = reader([json(200, session), json(401, { detail: "expired" }),
    json(200, { ...session, accessToken: "fresh" }), json(200, { items: [], total: 0 })]);
  const page = await history.page(0);
  assert.equal(page.total, 0);
  assert.equal(/** @type {any} */ (calls[3].init.headers).authorization, "Bearer fresh");
});

test("a token refused twice is an expired session", async () => {
  const { history } = reader([json(200, session), json(401, {}), json(200, session), json(401, {})]);
  await assert.rejects(history.page(0), (e) => e instanceof ChatGptError && e.state === "expired");
});

test("a rate limit is waited out: Retry-After, else doubling back-off", async () => {
  const { history, waits } = reader([json(200, session), json(429, {}, { "retry-after": "3" }), json(429, {}),
    json(200, { items: [], total: 0 })]);
  await history.page(20);
  assert.deepEqual(waits, [3, 4]);
});

test("a rate limit that does not lift is reported, not retried for ever", async () => {
  const { history, calls } = reader([json(200, session), ...Array.from({ length: MAX_TRIES }, () => json(429, {}))]);
  await assert.rejects(history.page(0), (e) => e instanceof ChatGptError && e.state === "rate-limited");
  assert.equal(calls.length, 1 + MAX_TRIES);
});

test("a Retry-After longer than a minute is reported at once", async () => {
  const { history, waits } = reader([json(200, session), json(429, {}, { "retry-after": "3600" })]);
  await assert.rejects(history.page(0), (e) => e instanceof ChatGptError && e.state === "rate-limited" && /3600 s/.test(e.message));
  assert.deepEqual(waits, []);
});

test("a network failure is 'unreachable'; a deleted conversation is refused in words", async () => {
  const down = reader([() => { throw new TypeError("Failed to fetch"); }]);
  await assert.rejects(down.history.page(0), (e) => e instanceof ChatGptError && e.state === "unreachable");
  const gone = reader([json(200, session), json(404, { detail: "Conversation not found" })]);
  await assert.rejects(gone.history.conversation("abc"), (e) => e instanceof ChatGptError && /no longer has this conversation/.test(e.message));
});

test("a conversation id is sent as one path segment", async () => {
  const { history, calls } = reader([json(200, session), json(200, { mapping: {} })]);
  await history.conversation("../../api/auth/session");
  assert.equal(calls[1].url, "https://chatgpt.com/backend-api/conversation/..%2F..%2Fapi%2Fauth%2Fsession");
});
