import { getApiUrl, setApiUrl } from "./storage.mjs";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const input = /** @type {HTMLInputElement} */ ($("api-url"));

input.value = await getApiUrl();
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
