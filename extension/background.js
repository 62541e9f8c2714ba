// The toolbar button opens the extension's page in a tab: the history, the review and the wallet
// bridge all live there (a popup would close as soon as the wallet's tab or a file dialog takes
// the focus).
chrome.action.onClicked.addListener(() => {
  chrome.tabs.create({ url: chrome.runtime.getURL("app.html") });
});
