// The toolbar button opens the contribution page in a tab: a file picker in a popup would close
// the popup, and the conversation with it, as soon as the file dialog takes the focus.
chrome.action.onClicked.addListener(() => {
  chrome.tabs.create({ url: chrome.runtime.getURL("app.html") });
});
