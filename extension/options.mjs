import { getApiUrl, setApiUrl } from "./storage.mjs";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const input = /** @type {HTMLInputElement} */ ($("api-url"));

// The stored address arrives after the page is up: an address typed (or saved) before then is
// the user's and is kept, not overwritten by the one read.
const stored = getApiUrl();
let edited = false;
input.addEventListener("input", () => { edited = true; });
$("origin").textContent = $("origin-again").textContent = location.origin;

$("api-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    input.value = await setApiUrl(input.value);
    $("saved").textContent = `Saved: ${input.value}`;
  } catch (error) {
    $("saved").textContent = `Not saved: ${/** @type {Error} */ (error).message}`;
  }
});

$("grant").addEventListener("click", async () => {
  const origin = `${new URL(input.value).origin}/*`;
  try {
    const granted = await chrome.permissions.request({ origins: [origin] });
    $("granted").textContent = granted ? `Access to ${origin} granted.` : "Not granted.";
  } catch (error) {
    $("granted").textContent = `Not granted: ${/** @type {Error} */ (error).message}`;
  }
});

const address = await stored;
if (!edited) input.value = address;
